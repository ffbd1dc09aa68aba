// xDS from files (dynamic_resources lds_config / cds_config with path_config_source, or the older `path`), as
// Envoy's dynamic-config-fs example uses: the file holds a DiscoveryResponse (YAML or JSON, `resources` as Any with
// @type); it is applied at start and again whenever it changes (Envoy's way: written elsewhere and moved into place,
// which the watch on its directory, or on watched_directory, sees). A file that does not parse or apply is
// rejected, named in the log, and the last good resources keep serving, as a NACK would.
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Bootstrap__Output } from "../xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import type { ConfigSource__Output } from "../xds/generated/envoy/config/core/v3/ConfigSource.js";
import { decodeAny, parseMessage, type AnyValue } from "../xds/resource.js";
import { formatErrors, type Result } from "../xds/result.js";
import type { Proxy } from "./proxy.js";

type Kind = "listener" | "cluster";
const TYPE = { listener: "type.googleapis.com/envoy.config.listener.v3.Listener", cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster" };
/** Changes arrive as several events (write, rename); one reload after they settle. */
const SETTLE_MS = 100;

export interface FileXds {
  /** Clusters first, then listeners (they name clusters), as ADS orders them. */
  loadAll(): Promise<void>;
  close(): void;
}

function fileOf(source: ConfigSource__Output | null | undefined): { path: string; watchDir: string } | undefined {
  if (source?.config_source_specifier === "path_config_source" && source.path_config_source) {
    const p = source.path_config_source;
    return { path: p.path, watchDir: p.watched_directory?.path || dirname(p.path) };
  }
  if (source?.config_source_specifier === "path" && source.path) return { path: source.path, watchDir: dirname(source.path) };
  return undefined;
}

function readResources(path: string, kind: Kind): Result<{ version: string; list: unknown[] }> {
  let json: unknown;
  try {
    json = parseYaml(readFileSync(path, "utf8"));
  } catch (err) {
    return { ok: false, errors: [{ path, message: `cannot read: ${(err as Error).message}` }] };
  }
  const r = parseMessage<{ version_info: string; resources: AnyValue[] }>("envoy.service.discovery.v3.DiscoveryResponse", json, path);
  if (!r.ok) return r;
  const list: unknown[] = [];
  for (const [i, any] of r.value.resources.entries()) {
    if (any.type_url !== TYPE[kind]) return { ok: false, errors: [{ path: `${path}: resources[${i}]`, message: `expected ${TYPE[kind]}, got ${any.type_url}` }] };
    const d = decodeAny(any, `${path}: resources[${i}]`);
    if (!d.ok) return d;
    list.push(d.value);
  }
  return { ok: true, value: { version: r.value.version_info || "file", list } };
}

export function startFileXds(bootstrap: Bootstrap__Output, proxy: Proxy): FileXds | undefined {
  const dr = bootstrap.dynamic_resources;
  const sources = ([["cluster", fileOf(dr?.cds_config)], ["listener", fileOf(dr?.lds_config)]] as const).filter((s): s is readonly [Kind, { path: string; watchDir: string }] => s[1] !== undefined);
  if (sources.length === 0) return undefined;
  const watchers: FSWatcher[] = [];
  const timers = new Map<Kind, NodeJS.Timeout>();
  const last = new Map<Kind, string>();
  const load = async (kind: Kind, path: string, initial: boolean): Promise<void> => {
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // reported by readResources below
    }
    if (!initial && text === last.get(kind)) return;
    const read = readResources(path, kind);
    const applied = read.ok ? (kind === "cluster" ? proxy.applyClusters(read.value.list as never, read.value.version) : await proxy.applyListeners(read.value.list as never, read.value.version)) : read;
    if (!applied.ok) {
      const message = `${kind === "cluster" ? "cds" : "lds"} file ${path} rejected: ${formatErrors(applied.errors)}`;
      if (initial) throw new Error(message);
      console.error(`trellis proxy: ${message}; the last good ${kind}s keep serving`);
      return;
    }
    last.set(kind, text);
  };
  return {
    async loadAll() {
      for (const [kind, f] of sources) await load(kind, f.path, true);
      for (const [kind, f] of sources) {
        const w = watch(f.watchDir, (_event, name) => {
          if (name && f.watchDir === dirname(f.path) && name !== basename(f.path)) return;
          clearTimeout(timers.get(kind));
          timers.set(kind, setTimeout(() => void load(kind, f.path, false), SETTLE_MS));
        });
        w.on("error", (err) => console.error(`trellis proxy: cannot watch ${f.watchDir}: ${err.message}`));
        watchers.push(w);
      }
    },
    close() {
      for (const w of watchers) w.close();
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
