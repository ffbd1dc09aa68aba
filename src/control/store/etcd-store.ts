// The etcd config store (`trellis control --store etcd://...`): Istio resources sealed (store-crypto.ts) under
// /trellis/resources/KIND/NS/NAME, read from an in-memory mirror that a prefix watch keeps current, so a write made
// through any replica reaches every replica's proxies. resourceVersion is the key's etcd mod revision, and writes are
// guarded transactions (expectVersion, create-only, and no lost update of generation/uid between two writers).
import { EventEmitter } from "node:events";
import type { IstioResource } from "../../api/resource.js";
import { storeKindOf } from "../../api/store-kind.js";
import type { ConfigStore, PutOptions, StoreEvent } from "./config-store.js";
import { ConflictError, NotFoundError } from "./store.js";
import { type EtcdClient, type EtcdEvent, type EtcdKv, StoreUnavailableError } from "./etcd-client.js";
import type { StoreCrypto } from "./store-crypto.js";

export const ETCD_PREFIX = "/trellis/";
const RESOURCES = `${ETCD_PREFIX}resources/`;
// Two writers racing on one key: each lost race re-reads and tries again, a few times at most.
const WRITE_ATTEMPTS = 5;

type Entry = { resource: IstioResource; modRevision: number };

function etcdKey(kind: string, namespace: string, name: string): string {
  return `${RESOURCES}${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

export class EtcdStore extends EventEmitter implements ConfigStore {
  private readonly items = new Map<string, Entry>();
  private revision = 0;
  private watch?: { stop(): void };

  private constructor(private readonly etcd: EtcdClient, private readonly crypto: StoreCrypto, private readonly log: (line: string) => void) {
    super();
  }

  /** Reads every resource, then follows changes from the revision read. */
  static async open(etcd: EtcdClient, crypto: StoreCrypto, log: (line: string) => void): Promise<EtcdStore> {
    const store = new EtcdStore(etcd, crypto, log);
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    const { kvs, revision } = await this.etcd.range(RESOURCES);
    const seen = new Set<string>();
    for (const kv of kvs) {
      const entry = this.decode(kv);
      if (!entry) continue;
      seen.add(kv.key);
      const prev = this.items.get(kv.key);
      this.items.set(kv.key, entry);
      if (!prev || prev.modRevision !== entry.modRevision) this.emit("event", { type: prev ? "MODIFIED" : "ADDED", object: entry.resource } satisfies StoreEvent);
    }
    // After a compaction forced a re-read: what is gone now was deleted meanwhile.
    for (const [k, prev] of this.items) if (!seen.has(k)) { this.items.delete(k); this.emit("event", { type: "DELETED", object: prev.resource } satisfies StoreEvent); }
    this.revision = Math.max(this.revision, revision);
    this.watch?.stop();
    this.watch = this.etcd.watch(RESOURCES, revision + 1, (events, rev) => this.apply(events, rev), () => {
      this.log("trellis control: the etcd store's history was compacted past our watch; reading every resource again");
      this.load().catch((err: Error) => this.log(`trellis control: ${err.message}; retrying`));
    });
  }

  private decode(kv: EtcdKv): Entry | undefined {
    try {
      const r = JSON.parse(this.crypto.open(kv.key, kv.value).toString()) as IstioResource;
      r.metadata.resourceVersion = String(kv.modRevision);
      return { resource: r, modRevision: kv.modRevision };
    } catch (err) {
      this.log(`trellis control: ignoring ${kv.key} in etcd: ${(err as Error).message}`);
      return undefined;
    }
  }

  private apply(events: EtcdEvent[], revision: number): void {
    for (const e of events) {
      const prev = this.items.get(e.kv.key);
      if (prev && prev.modRevision >= e.kv.modRevision) continue; // our own write, already in the mirror
      if (e.type === "DELETE") {
        if (!prev) continue;
        this.items.delete(e.kv.key);
        this.emit("event", { type: "DELETED", object: prev.resource } satisfies StoreEvent);
        continue;
      }
      const entry = this.decode(e.kv);
      if (!entry) continue;
      this.items.set(e.kv.key, entry);
      this.emit("event", { type: prev ? "MODIFIED" : "ADDED", object: entry.resource } satisfies StoreEvent);
    }
    this.revision = Math.max(this.revision, revision);
  }

  list(kind?: string, namespace?: string): IstioResource[] {
    return [...this.items.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, e]) => e.resource)
      .filter((r) => (!kind || storeKindOf(r) === kind) && (!namespace || r.metadata.namespace === namespace));
  }

  get(kind: string, namespace: string, name: string): IstioResource | undefined {
    return this.items.get(etcdKey(kind, namespace, name))?.resource;
  }

  version(): number {
    return this.revision;
  }

  async put(resource: IstioResource, opts: PutOptions = {}): Promise<IstioResource> {
    const ns = resource.metadata.namespace ?? "default";
    const k = etcdKey(storeKindOf(resource), ns, resource.metadata.name);
    const label = `${storeKindOf(resource)}/${ns}/${resource.metadata.name}`;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const current = await this.etcd.get(k);
      const prev = current ? this.decode(current)?.resource : undefined;
      if (opts.mustNotExist && current) throw new ConflictError(`${label} already exists; use PUT to replace it`);
      if (opts.expectVersion !== undefined && String(current?.modRevision ?? "") !== opts.expectVersion) {
        throw new ConflictError(`${label} was changed since version ${opts.expectVersion} (now ${current?.modRevision ?? "deleted"}); read it again and retry`);
      }
      const stored: IstioResource = {
        ...resource,
        metadata: {
          ...resource.metadata, namespace: ns, resourceVersion: undefined,
          generation: (prev?.metadata.generation ?? 0) + 1,
          creationTimestamp: prev?.metadata.creationTimestamp ?? new Date().toISOString(),
          uid: prev?.metadata.uid ?? crypto.randomUUID(),
        },
      };
      const value = this.crypto.seal(k, Buffer.from(JSON.stringify(stored)));
      const { succeeded, revision } = await this.etcd.txn([{ key: k, target: "MOD", equals: current?.modRevision ?? 0 }], [{ put: { key: k, value } }]);
      if (!succeeded) continue;
      stored.metadata.resourceVersion = String(revision);
      const had = this.items.get(k);
      if (!had || had.modRevision < revision) {
        this.items.set(k, { resource: stored, modRevision: revision });
        this.emit("event", { type: had ? "MODIFIED" : "ADDED", object: stored } satisfies StoreEvent);
      }
      return stored;
    }
    throw new ConflictError(`${label} kept changing under this write (${WRITE_ATTEMPTS} attempts); retry`);
  }

  async delete(kind: string, namespace: string, name: string): Promise<IstioResource> {
    const k = etcdKey(kind, namespace, name);
    const current = await this.etcd.get(k);
    if (!current) throw new NotFoundError(`${kind}/${namespace}/${name} does not exist`);
    const prev = this.decode(current)?.resource;
    const { succeeded } = await this.etcd.txn([{ key: k, target: "MOD", equals: current.modRevision }], [{ delete: { key: k } }]);
    if (!succeeded) throw new ConflictError(`${kind}/${namespace}/${name} changed while it was being deleted; read it again and retry`);
    const had = this.items.get(k);
    this.items.delete(k);
    if (had) this.emit("event", { type: "DELETED", object: had.resource } satisfies StoreEvent);
    if (!prev) throw new StoreUnavailableError(`${kind}/${namespace}/${name} was deleted, but its stored value could not be read back`);
    return prev;
  }

  close(): void {
    this.watch?.stop();
  }
}
