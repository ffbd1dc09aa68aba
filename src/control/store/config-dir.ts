// GitOps for `trellis control --config-dir DIR`: the YAML under DIR is the truth for the resources it defines. Each
// one is applied (validated as the REST API validates) and marked with the file it came from; a resource whose file
// no longer defines it is deleted. A file that does not parse, or a resource that is invalid, is reported with its
// file and line and changes nothing: the version applied before keeps serving. Resources written through the API
// (no mark) are left alone unless a file defines the same name, and then the file wins.
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import { validateResource } from "../../api/analyze.js";
import { parseDocuments } from "../../api/load.js";
import type { IstioResource } from "../../api/resource.js";
import type { ConfigStore } from "./config-store.js";

export const SOURCE_ANNOTATION = "trellis.io/config-source";

const key = (r: IstioResource) => `${r.kind}/${r.metadata.namespace ?? "default"}/${r.metadata.name}`;

/** What a stored resource is compared on: a file's resource is rewritten only when one of these changed. */
function content(r: IstioResource): string {
  const { labels, annotations } = r.metadata;
  return JSON.stringify({ spec: r.spec, labels: labels ?? {}, annotations: annotations ?? {} });
}

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Editors' and Git's own files are not config.
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(path)));
    else if ([".yaml", ".yml", ".json"].includes(extname(entry.name))) out.push(path);
  }
  return out.sort();
}

export class ConfigDirSync {
  private timer?: NodeJS.Timeout;
  private fingerprint = "";
  private running?: Promise<void>;

  constructor(private readonly dir: string, private readonly store: ConfigStore, private readonly log: (line: string) => void, private readonly intervalMs = 2000) {}

  /** Applies the directory now (it must exist), then watches it by polling: bounded work, no platform quirks. */
  async start(): Promise<void> {
    const s = await stat(this.dir).catch(() => undefined);
    if (!s?.isDirectory()) throw new Error(`--config-dir ${this.dir} is not a directory; create it or point at the folder holding your YAML`);
    await this.sync();
    this.timer = setInterval(() => { void this.sync(); }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass; overlapping calls share the pass in flight. */
  sync(): Promise<void> {
    this.running ??= this.pass().catch((err: Error) => {
      // A write the store refused (an API server down): the next pass tries again even if no file changed.
      this.fingerprint = "";
      this.log(`trellis control: --config-dir ${this.dir}: ${err.message}`);
    }).finally(() => { this.running = undefined; });
    return this.running;
  }

  private async pass(): Promise<void> {
    const files = await yamlFiles(this.dir);
    const stats = await Promise.all(files.map((f) => stat(f).then((s) => `${f}:${s.mtimeMs}:${s.size}`, () => f)));
    const fingerprint = stats.join("|");
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;

    const desired = new Map<string, { resource: IstioResource; file: string }>();
    /** Files that could not be read or parsed: what they defined before stays as it is. */
    const broken = new Set<string>();
    /** Keys a file still defines but whose new version is invalid: the old version stays. */
    const kept = new Set<string>();
    for (const path of files) {
      const file = relative(this.dir, path);
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        broken.add(file);
        this.log(`trellis control: --config-dir: cannot read ${file}: ${(err as Error).message}; its resources stay as they were`);
        continue;
      }
      const parsed = parseDocuments(text, file);
      const fatal = parsed.findings.filter((f) => f.level === "Error" && !f.resource);
      if (fatal.length) {
        broken.add(file);
        for (const f of fatal) this.log(`trellis control: --config-dir: ${f.source ? `${f.source.file}:${f.source.line}` : file}: ${f.message}; its resources stay as they were`);
        continue;
      }
      for (const resource of parsed.resources) {
        const errors = validateResource(resource).filter((f) => f.level === "Error");
        const k = key(resource);
        if (errors.length) {
          kept.add(k);
          for (const e of errors) this.log(`trellis control: --config-dir: ${e.source ? `${e.source.file}:${e.source.line}` : file}: ${k} ${e.path ?? ""}: ${e.message}; not applied`);
          continue;
        }
        const prev = desired.get(k);
        if (prev) this.log(`trellis control: --config-dir: ${k} is defined in ${prev.file} and ${file}; ${file} wins`);
        const { origin: _origin, ...plain } = resource as IstioResource & { origin?: unknown };
        desired.set(k, { resource: plain, file });
      }
    }

    for (const [k, { resource, file }] of desired) {
      const wanted: IstioResource = {
        apiVersion: resource.apiVersion, kind: resource.kind, spec: resource.spec,
        metadata: {
          name: resource.metadata.name, namespace: resource.metadata.namespace ?? "default",
          ...(resource.metadata.labels ? { labels: resource.metadata.labels } : {}),
          annotations: { ...(resource.metadata.annotations ?? {}), [SOURCE_ANNOTATION]: file },
        },
      };
      const existing = this.store.get(wanted.kind, wanted.metadata.namespace!, wanted.metadata.name);
      if (existing && content(existing) === content(wanted)) continue;
      if (existing && !existing.metadata.annotations?.[SOURCE_ANNOTATION]) this.log(`trellis control: --config-dir: ${file} takes over ${k}, which was written through the API`);
      await this.store.put(wanted);
      this.log(`trellis control: --config-dir: ${existing ? "updated" : "created"} ${k} from ${file}`);
    }
    for (const r of this.store.list()) {
      const source = r.metadata.annotations?.[SOURCE_ANNOTATION];
      const k = key(r);
      if (!source || desired.has(k) || kept.has(k) || broken.has(source)) continue;
      await this.store.delete(r.kind, r.metadata.namespace!, r.metadata.name);
      this.log(`trellis control: --config-dir: deleted ${k} (no longer in ${source})`);
    }
  }
}
