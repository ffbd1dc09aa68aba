// Proxies' registrations shared between replicas through etcd: a proxy connected to this replica is put under
// /trellis/registrations/NODE (sealed, on this replica's lease); those of other replicas are watched into this
// replica's registry, so every replica's proxies get endpoints for every workload whichever replica it talks to.
// A proxy that fails over re-registers at its new replica, whose put replaces the old one (and its lease).
import type { ConnectedProxy } from "../../xds/ads-server.js";
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
  /** Its stream as this replica's xDS server sees it (sync state per type), for proxy-status on any replica. */
  proxy?: Omit<ConnectedProxy, "streamId">;
}

type Status = () => ConnectedProxy[];

export class Registrations {
  private readonly local = new Map<string, Workload>();
  /** Registrations held by other replicas: node id -> registration. */
  private readonly remote = new Map<string, Registration>();
  /** Local registrations not yet written (a write failed during an outage): retried. */
  private readonly pending = new Set<string>();
  private watch?: { stop(): void };
  private flusher?: NodeJS.Timeout;
  /** What was last written per local proxy, so only changes are written again. */
  private readonly written = new Map<string, string>();

  constructor(private readonly etcd: EtcdClient, private readonly crypto: StoreCrypto, private readonly lease: ReplicaLease, readonly replica: string, private readonly registry: Registry, private readonly status: Status, private readonly log: (line: string) => void) {
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

  /** Registrations held by other replicas. */
  remoteRegistrations(): Registration[] {
    return [...this.remote.values()];
  }

  /** Proxies on other replicas in /debug/proxies' shape, with the replica each is connected to. */
  remoteProxies(): object[] {
    return [...this.remote.values()].filter((r) => r.proxy && !this.local.has(r.workload.id)).map((r) => ({ ...r.proxy, workload: r.workload, replica: r.replica }));
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
      const before = this.remote.get(id);
      this.remote.set(id, r);
      // A proxy connected here is described by its own stream; a stale registration elsewhere does not override it.
      // A put that only reports a new sync state changes no endpoint, so it does not make every replica recompute.
      if (!this.local.has(id) && (!before || JSON.stringify(before.workload) !== JSON.stringify(r.workload))) this.registry.upsert(r.workload);
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
    this.written.delete(id);
    const lease = this.lease.current;
    // Only our own registration goes: the proxy may have registered at another replica already.
    this.etcd.txn([{ key: this.key(id), target: "LEASE", equals: lease }], [{ delete: { key: this.key(id) } }]).catch(() => {});
    const elsewhere = this.remote.get(id);
    if (elsewhere) this.registry.upsert(elsewhere.workload);
  }

  /** Writes new registrations, and those whose sync state changed since last written. */
  private flush(): void {
    const lease = this.lease.current;
    if (lease === "0") return;
    const streams = new Map(this.status().map((p) => [p.node.id, p]));
    for (const [id, w] of this.local) {
      const { streamId: _streamId, ...proxy } = streams.get(id) ?? { streamId: 0 };
      const text = JSON.stringify({ replica: this.replica, workload: w, ...("node" in proxy ? { proxy } : {}) } satisfies Registration);
      if (!this.pending.has(id) && this.written.get(id) === text) continue;
      this.pending.delete(id);
      this.written.set(id, text);
      this.etcd.txn([], [{ put: { key: this.key(id), value: this.crypto.seal(this.key(id), Buffer.from(text)), lease } }]).catch((err: Error) => {
        this.written.delete(id);
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
