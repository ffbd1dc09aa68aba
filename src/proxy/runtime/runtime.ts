// Envoy's runtime (layered_runtime): static layers from the bootstrap, disk layers read from a directory tree (one
// file per key, reread when the tree is swapped), and an admin layer changed through /runtime_modify; the last layer
// holding a key wins. Features read their runtime keys here at request time (fault percentages, runtime fractions).
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { dirname, join } from "node:path";
import type { LayeredRuntime__Output as LayeredRuntime } from "../../xds/generated/envoy/config/bootstrap/v3/LayeredRuntime.js";

type Layer = { name: string; kind: "static" | "disk" | "admin"; values: Map<string, string> };

/** A Struct (as decoded) flattened into dotted keys, values as the strings Envoy's runtime holds. */
function flatten(s: unknown, prefix: string, out: Map<string, string>): void {
  const fields = (s as { fields?: Record<string, Record<string, unknown>> } | null)?.fields ?? {};
  for (const [k, v] of Object.entries(fields)) {
    const key = prefix ? `${prefix}.${k}` : k;
    switch (v.kind) {
      case "structValue": flatten(v.structValue, key, out); break;
      case "numberValue": out.set(key, String(v.numberValue)); break;
      case "boolValue": out.set(key, String(v.boolValue)); break;
      case "stringValue": out.set(key, String(v.stringValue)); break;
      default: break;
    }
  }
}

/** A disk layer's tree: each file is a key (its path with dots), its trimmed content the value. */
function readTree(dir: string, prefix: string, out: Map<string, string>, depth = 0): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // an absent directory is an empty layer, as in Envoy
  }
  for (const name of names) {
    if (name.startsWith(".") || depth > 16) continue;
    const path = join(dir, name);
    const key = prefix ? `${prefix}.${name}` : name;
    if (statSync(path).isDirectory()) readTree(path, key, out, depth + 1);
    else out.set(key, readFileSync(path, "utf8").trim());
  }
}

export class Runtime {
  private readonly layers: Layer[] = [];
  private readonly watchers: FSWatcher[] = [];

  /** The runtime a bootstrap's layered_runtime describes (empty without one: every key at its default). */
  static fromBootstrap(config: LayeredRuntime | null | undefined, serviceCluster: string, where: string): Runtime {
    const rt = new Runtime();
    for (const [i, l] of (config?.layers ?? []).entries()) {
      const at = `${where}.layers[${i}]`;
      switch (l.layer_specifier) {
        case "static_layer": {
          const values = new Map<string, string>();
          flatten(l.static_layer, "", values);
          rt.layers.push({ name: l.name, kind: "static", values });
          break;
        }
        case "disk_layer": rt.addDisk(l.name, l.disk_layer!, serviceCluster); break;
        case "admin_layer":
          if (rt.layers.some((x) => x.kind === "admin")) throw new Error(`${at}.admin_layer: only one admin layer is allowed`);
          rt.layers.push({ name: l.name, kind: "admin", values: new Map() });
          break;
        default: throw new Error(`${at}: ${l.layer_specifier ?? "a layer without a kind"} is not supported (static_layer, disk_layer, admin_layer are)`);
      }
    }
    return rt;
  }

  private addDisk(name: string, d: { symlink_root: string; subdirectory: string; append_service_cluster: boolean }, serviceCluster: string): void {
    const layer: Layer = { name, kind: "disk", values: new Map() };
    const root = join(d.symlink_root, d.subdirectory, d.append_service_cluster ? serviceCluster : "");
    const load = () => {
      const values = new Map<string, string>();
      readTree(root, "", values);
      layer.values = values;
    };
    load();
    this.layers.push(layer);
    // Envoy's way to change a disk layer: swap the symlink_root link; the watch on its directory sees the rename.
    try {
      const w = watch(dirname(d.symlink_root), () => load());
      w.on("error", () => undefined);
      this.watchers.push(w);
    } catch {
      // a root whose parent does not exist yet is read as empty and not watched
    }
  }

  get(key: string): string | undefined {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const v = this.layers[i].values.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** An integer key (a status, milliseconds), else the fallback. */
  integer(key: string | undefined, fallback: number): number {
    const v = key ? this.get(key) : undefined;
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback;
  }

  /** A fraction: the key's integer value over the default's denominator, else the default (Envoy's featureEnabled). */
  fraction(key: string | undefined, fallback: number, denominator: number): number {
    const v = key ? this.get(key) : undefined;
    return v !== undefined && /^\d+$/.test(v) ? Math.min(1, Number(v) / denominator) : fallback;
  }

  /** A boolean feature flag ("true"/"false"), else the fallback. */
  flag(key: string | undefined, fallback: boolean): boolean {
    const v = key ? this.get(key) : undefined;
    return v === "true" ? true : v === "false" ? false : fallback;
  }

  /** /runtime_modify: sets (or, with an empty value, removes) admin-layer keys; refused without an admin layer. */
  modify(values: Record<string, string>): string | undefined {
    const admin = this.layers.find((l) => l.kind === "admin");
    if (!admin) return "No admin layer specified";
    for (const [k, v] of Object.entries(values)) {
      if (v === "") admin.values.delete(k);
      else admin.values.set(k, v);
    }
    return undefined;
  }

  /** Envoy's /runtime: the layers in order, and each key's final value and value per layer. */
  dump(): { layers: string[]; entries: Record<string, { final_value: string; layer_values: string[] }> } {
    const keys = new Set(this.layers.flatMap((l) => [...l.values.keys()]));
    const entries: Record<string, { final_value: string; layer_values: string[] }> = {};
    for (const k of [...keys].sort()) entries[k] = { final_value: this.get(k) ?? "", layer_values: this.layers.map((l) => l.values.get(k) ?? "") };
    return { layers: this.layers.map((l) => l.name), entries };
  }

  close(): void {
    for (const w of this.watchers) w.close();
  }
}

/** Envoy's FractionalPercent denominators. */
export const DENOMINATOR: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
