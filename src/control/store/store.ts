// The embedded config store: Istio resources by kind, namespace and name, persisted as one JSON file per resource
// under the state directory (written atomically), with resourceVersion for optimistic concurrency and a watch.
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IstioResource } from "../../api/resource.js";
import { storeKindOf } from "../../api/store-kind.js";
import { moveAside, QUARANTINE_DIR, type QuarantinedResource, refusedStoredName, removeQuarantined } from "./quarantine.js";

/** `previous`: what a MODIFIED object replaced, when the store knows it (so a rewrite with the same content can be told). */
export type StoreEvent = { type: "ADDED" | "MODIFIED" | "DELETED"; object: IstioResource; previous?: IstioResource };

export class ConflictError extends Error {
  readonly code = "TRELLIS_CONFLICT";
}

export class NotFoundError extends Error {
  readonly code = "TRELLIS_NOT_FOUND";
}

function key(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function fileName(k: string): string {
  return `${encodeURIComponent(k)}.json`;
}

export class Store extends EventEmitter {
  private readonly items = new Map<string, IstioResource>();
  private revision = 0;
  private readonly dir: string;
  private readonly aside: QuarantinedResource[] = [];

  constructor(stateDir: string) {
    super();
    this.dir = join(stateDir, "resources");
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(".json")) continue;
      try {
        const r = JSON.parse(readFileSync(join(this.dir, f), "utf8")) as IstioResource;
        if (this.quarantine(f, r)) continue;
        this.items.set(key(storeKindOf(r), r.metadata.namespace ?? "default", r.metadata.name), r);
        this.revision = Math.max(this.revision, Number(r.metadata.resourceVersion ?? 0));
      } catch (err) {
        console.error(`trellis control: ignoring unreadable ${join(this.dir, f)}: ${(err as Error).message}`);
      }
    }
  }

  /** Sets a resource stored under a name now refused aside (never served) and says where it went and what to do. */
  private quarantine(f: string, r: IstioResource): boolean {
    const reason = refusedStoredName(r);
    if (!reason) return false;
    const file = `resources/${QUARANTINE_DIR}/${moveAside(this.dir, f)}`;
    const q = { kind: storeKindOf(r), namespace: String(r.metadata.namespace ?? "default"), name: String(r.metadata.name), file, reason };
    this.aside.push(q);
    console.error(`trellis control: ${f} holds a ${q.kind} stored under a name now refused (${reason}); moved to STATE/${file}, not served. Recreate it under a valid name if you need it, then delete that file (a name the API can address, such as an overlong one, can also be removed by a DELETE of its path)`);
    return true;
  }

  /** Resources set aside at load because their names are now refused. */
  quarantined(): QuarantinedResource[] {
    return [...this.aside];
  }

  /** Removes a quarantined resource's file; undefined when no such resource was set aside. */
  deleteQuarantined(kind: string, namespace: string, name: string): QuarantinedResource | undefined {
    const i = this.aside.findIndex((q) => q.kind === kind && q.namespace === namespace && q.name === name);
    if (i < 0) return undefined;
    const [q] = this.aside.splice(i, 1);
    removeQuarantined(this.dir, q);
    return q;
  }

  list(kind?: string, namespace?: string): IstioResource[] {
    return [...this.items.values()].filter((r) => (!kind || storeKindOf(r) === kind) && (!namespace || r.metadata.namespace === namespace))
      .sort((a, b) => key(storeKindOf(a), a.metadata.namespace!, a.metadata.name).localeCompare(key(storeKindOf(b), b.metadata.namespace!, b.metadata.name)));
  }

  get(kind: string, namespace: string, name: string): IstioResource | undefined {
    return this.items.get(key(kind, namespace, name));
  }

  version(): number {
    return this.revision;
  }

  /**
   * Creates or replaces. With `expectVersion`, the write only happens if the stored resourceVersion still matches
   * (a 409 otherwise), so two writers cannot silently overwrite each other.
   */
  put(resource: IstioResource, opts: { expectVersion?: string; mustNotExist?: boolean } = {}): IstioResource {
    const ns = resource.metadata.namespace ?? "default";
    const k = key(storeKindOf(resource), ns, resource.metadata.name);
    const prev = this.items.get(k);
    if (opts.mustNotExist && prev) throw new ConflictError(`${k} already exists; use PUT to replace it`);
    if (opts.expectVersion !== undefined && prev?.metadata.resourceVersion !== opts.expectVersion) {
      throw new ConflictError(`${k} was changed since version ${opts.expectVersion} (now ${prev?.metadata.resourceVersion ?? "deleted"}); read it again and retry`);
    }
    const stored: IstioResource = {
      ...resource,
      metadata: {
        ...resource.metadata, namespace: ns, resourceVersion: String(++this.revision),
        generation: (prev?.metadata.generation ?? 0) + 1,
        creationTimestamp: prev?.metadata.creationTimestamp ?? new Date().toISOString(),
        uid: prev?.metadata.uid ?? crypto.randomUUID(),
      },
    };
    const path = join(this.dir, fileName(k));
    writeFileSync(`${path}.tmp`, JSON.stringify(stored, null, 2));
    renameSync(`${path}.tmp`, path);
    this.items.set(k, stored);
    this.emit("event", { type: prev ? "MODIFIED" : "ADDED", object: stored, ...(prev ? { previous: prev } : {}) } satisfies StoreEvent);
    return stored;
  }

  delete(kind: string, namespace: string, name: string): IstioResource {
    const k = key(kind, namespace, name);
    const prev = this.items.get(k);
    if (!prev) throw new NotFoundError(`${k} does not exist`);
    rmSync(join(this.dir, fileName(k)), { force: true });
    this.items.delete(k);
    this.revision++;
    this.emit("event", { type: "DELETED", object: prev } satisfies StoreEvent);
    return prev;
  }

  static exists(stateDir: string): boolean {
    return existsSync(join(stateDir, "resources"));
  }
}
