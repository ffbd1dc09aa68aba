// `trellis apply -f PATH`: creates or replaces Istio resources through the control plane's REST API.
import { parseArgs } from "node:util";
import { kindFor } from "../api/kinds.js";
import { loadPaths } from "../api/load.js";
import { storeKindOf } from "../api/store-kind.js";
import { durationFlag } from "./flags.js";
import { waitForPropagation, type Written } from "./propagation-wait.js";
import { call, controlAddress, resourcePath } from "./rest-client.js";

const USAGE = `usage: trellis apply -f PATH [-f PATH ...] [--control HOST:PORT] [--wait [--timeout 30s]]

PATH is a YAML/JSON file, a directory, or - for stdin.
--wait returns when every proxy each change affects has ACKed it, and names those that NACKed (with the error),
disconnected, or did not answer within --timeout (default 30s); it exits 1 unless every change reached every proxy.`;

export async function run(args: string[]): Promise<number> {
  let files: string[];
  let base: string;
  let wait: number | undefined;
  try {
    const { values } = parseArgs({ args, options: { filename: { type: "string", short: "f", multiple: true }, control: { type: "string" }, wait: { type: "boolean" }, timeout: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (values.help) { console.log(USAGE); return 0; }
    files = values.filename ?? [];
    if (!files.length) throw new Error("give at least one -f PATH");
    base = controlAddress(values.control);
    if (values.timeout !== undefined && !values.wait) throw new Error("--timeout is how long --wait waits: give --wait too");
    wait = values.wait ? durationFlag("--timeout", values.timeout, 30_000, 1) : undefined;
  } catch (err) {
    console.error(`trellis apply: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let loaded;
  try {
    loaded = await loadPaths(files);
  } catch (err) {
    console.error(`trellis apply: ${(err as Error).message}`);
    return 2;
  }
  for (const f of loaded.findings) console.error(`${f.level} [${f.code}]${f.source ? ` ${f.source.file}:${f.source.line}` : ""}: ${f.message}`);
  if (loaded.findings.some((f) => f.level === "Error")) return 1;
  let failed = 0;
  const written: Written[] = [];
  try {
    for (const r of loaded.resources) {
      const info = kindFor(r.apiVersion, r.kind)!;
      const ns = r.metadata.namespace ?? "default";
      const { origin: _origin, ...body } = r;
      const existing = await call(base, "GET", resourcePath(info, ns, r.metadata.name));
      const res = existing.status === 200
        ? await call(base, "PUT", resourcePath(info, ns, r.metadata.name), { ...body, metadata: { ...body.metadata, resourceVersion: (existing.body.metadata as { resourceVersion?: string }).resourceVersion } })
        : await call(base, "POST", resourcePath(info, ns), body);
      const label = `${info.kind.toLowerCase()}.${info.group}/${r.metadata.name}`;
      if (res.status === 200 || res.status === 201) {
        console.log(`${label} ${res.status === 201 ? "created" : "configured"}`);
        const version = (res.body.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        // A store that keeps an unchanged resource's version (Kubernetes) made no change: nothing to wait for.
        const before = existing.status === 200 ? (existing.body.metadata as { resourceVersion?: string }).resourceVersion : undefined;
        if (version && version !== before) written.push({ kind: storeKindOf(r), namespace: ns, name: r.metadata.name, resourceVersion: version, label });
        else if (wait !== undefined) console.log(`${label}: unchanged, nothing to propagate`);
        for (const w of (res.body.warnings as Array<{ code: string; message: string }> | undefined) ?? []) console.error(`Warning [${w.code}]: ${w.message}`);
      } else {
        failed++;
        console.error(`Error from server (${res.body.reason ?? res.status}): ${res.body.message}`);
      }
    }
    if (wait !== undefined) failed += await waitForPropagation(base, written, wait);
  } catch (err) {
    console.error(`trellis apply: ${(err as Error).message}`);
    return 1;
  }
  return failed ? 1 : 0;
}
