// Proxies' registrations shared between replicas through etcd: a proxy connected to this replica is put under
// /trellis/registrations/NODE (sealed, on this replica's lease); those of other replicas are watched into this
// replica's registry, so every replica's proxies get endpoints for every workload whichever replica it talks to.
// A proxy that fails over re-registers at its new replica, whose put replaces the old one (and its lease).
import type { Registry, Workload } from "../registry/registry.js";
import { type EtcdClient, type EtcdEvent, type EtcdKv } from "../store/etcd-client.js";
import { ETCD_PREFIX } from "../store/etcd-store.js";
import type { StoreCrypto } from "../store/store-crypto.js";
import type { ReplicaLease } from "./replica-lease.js";

export const REGISTRATIONS = `${ETCD_PREFIX}registrations/`;
const FLUSH_MS = 1000;

export interface Registration {
  replica: string;
  workload: Workload;
}

export class Registrations {
  private readonly local = new Map<string, Workload>();
  /** Registrations held by other replicas: node id -> registration. */
  private readonly remote = new Map<string, Registration>();
  /** Local registrations not yet written (a write failed during an outage): retried. */
  private readonly pending = new Set<string>();
  private watch?: { stop(): void };
  private flusher?: NodeJS.Timeout;

  constructor(private readonly etcd: EtcdClient, private readonly crypto: StoreCrypto, private readonly lease: ReplicaLease, readonly replica: string, private readonly registry: Registry, private readonly log: (line: string) => void) {
    lease.onRenewed(() => { for (const id of this.local.keys()) this.pending.add(id); this.flush(); });
  }

  async start(): Promise<void> {
    const { kvs, revision } = await this.etcd.range(REGISTRATIONS);
    this.apply(kvs.map((kv) => ({ type: "PUT", kv })));
    this.watch = this.etcd.watch(REGISTRATIONS, revision + 1, (events) => this.apply(events), () => {
      this.log("trellis control: registrations' history was compacted past our watch; reading them again");
      this.watch?.stop();
      this.start().catch((err: Error) => this.log(`trellis control: ${err.message}`));
    });
    this.flusher = setInterval(() => this.flush(), FLUSH_MS);
    this.flusher.unref();
  }

  /** Node ids registered at other replicas, with the replica each is connected to. */
  remoteProxies(): Registration[] {
    return [...this.remote.values()];
  }

  private key(id: string): string {
    return `${REGISTRATIONS}${encodeURIComponent(id)}`;
  }

  private decode(kv: EtcdKv): Registration | undefined {
    try {
      return JSON.parse(this.crypto.open(kv.key, kv.value).toString()) as Registration;
    } catch (err) {
      this.log(`trellis control: ignoring registration ${kv.key}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private apply(events: Array<Pick<EtcdEvent, "type" | "kv">>): void {
    for (const e of events) {
      const id = decodeURIComponent(e.kv.key.slice(REGISTRATIONS.length));
      if (e.type === "DELETE") {
        if (!this.remote.delete(id) || this.local.has(id)) continue;
        this.registry.remove(id);
        continue;
      }
      const r = this.decode(e.kv);
      if (!r || r.replica === this.replica) { this.remote.delete(id); continue; }
      this.remote.set(id, r);
      // A proxy connected here is described by its own stream; a stale registration elsewhere does not override it.
      if (!this.local.has(id)) this.registry.upsert(r.workload);
    }
  }

  /** A proxy connected to this replica registered `w`. */
  registered(w: Workload): void {
    this.local.set(w.id, w);
    this.pending.add(w.id);
    this.flush();
  }

  /** A proxy's last stream to this replica ended. */
  unregistered(id: string): void {
    if (!this.local.delete(id)) return;
    this.pending.delete(id);
    const lease = this.lease.current;
    // Only our own registration goes: the proxy may have registered at another replica already.
    this.etcd.txn([{ key: this.key(id), target: "LEASE", equals: lease }], [{ delete: { key: this.key(id) } }]).catch(() => {});
    const elsewhere = this.remote.get(id);
    if (elsewhere) this.registry.upsert(elsewhere.workload);
  }

  private flush(): void {
    const lease = this.lease.current;
    if (lease === "0") return;
    for (const id of [...this.pending]) {
      const w = this.local.get(id);
      this.pending.delete(id);
      if (!w) continue;
      const value = this.crypto.seal(this.key(id), Buffer.from(JSON.stringify({ replica: this.replica, workload: w } satisfies Registration)));
      this.etcd.txn([], [{ put: { key: this.key(id), value, lease } }]).catch((err: Error) => {
        if (this.local.has(id)) this.pending.add(id);
        this.log(`trellis control: cannot register ${id} in etcd yet: ${err.message}`);
      });
    }
  }

  stop(): void {
    clearInterval(this.flusher);
    this.watch?.stop();
  }
}
