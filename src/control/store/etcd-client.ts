// A small etcd v3 client over gRPC (grpc-js, etcd's own API): ranges, guarded writes (Txn), prefix watches that
// resume from the last revision seen, and leases kept alive. Several members are one channel with pick_first, so a
// dead member is left for the next; every call has a deadline, and one that cannot reach a quorum in time fails with
// TRELLIS_STORE_UNAVAILABLE instead of hanging a REST write.
import * as grpc from "@grpc/grpc-js";
import { isIP } from "node:net";
import { etcdServices } from "./etcd-proto.js";

export class StoreUnavailableError extends Error {
  readonly code = "TRELLIS_STORE_UNAVAILABLE";
}

export interface EtcdKv {
  key: string;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  lease: string;
}

export interface EtcdEvent {
  type: "PUT" | "DELETE";
  kv: EtcdKv;
}

/** One guard of a Txn: the key's mod (or create) revision compared for equality; 0 means "does not exist". */
export interface Guard {
  key: string;
  target: "MOD" | "CREATE" | "LEASE";
  equals: number | string;
}

export type Op = { put: { key: string; value: Buffer; lease?: string } } | { delete: { key: string } };

type Raw = Record<string, unknown>;
const RETRY_MS = 250;
type Unary = (req: Raw, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Raw) => void) => void;

/** "etcd://10.0.0.1:2379,10.0.0.2:2379" -> its HOST:PORT list; the error names the flag and the fix. */
export function parseEtcdUrl(url: string): string[] {
  const m = /^etcd:\/\/(.+)$/.exec(url);
  if (!m) throw new Error(`--store "${url}" must be etcd://HOST:PORT[,HOST:PORT...] (or leave it out for the embedded file store)`);
  const members = m[1].split(",").map((s) => s.trim());
  for (const a of members) {
    const p = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(a);
    if (!p || Number(p[2]) < 1 || Number(p[2]) > 65535) throw new Error(`--store: "${a}" must be HOST:PORT (an etcd member's client URL)`);
    if (members.length > 1 && !isIP(p[1].replace(/^\[|\]$/g, ""))) throw new Error(`--store: give several members as IP:PORT ("${a}" is a name); one name may stand alone`);
  }
  return members;
}

function target(members: string[]): string {
  if (members.length === 1 && !isIP(members[0].replace(/:\d+$/, "").replace(/^\[|\]$/g, ""))) return `dns:${members[0]}`;
  return `${members[0].startsWith("[") ? "ipv6" : "ipv4"}:${members.join(",")}`;
}

/** TLS toward etcd (etcdctl's --cacert, --cert, --key): the CA that signed the members' certificates, and a client certificate when they ask for one. */
export interface EtcdTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  b[b.length - 1]++;
  return b;
}

function kvOf(raw: Raw): EtcdKv {
  return { key: (raw.key as Buffer).toString(), value: raw.value as Buffer, createRevision: Number(raw.create_revision), modRevision: Number(raw.mod_revision), lease: String(raw.lease) };
}

export class EtcdClient {
  private readonly kv: grpc.Client;
  private readonly watchClient: grpc.Client;
  private readonly leaseClient: grpc.Client;
  private readonly streams = new Set<grpc.ClientDuplexStream<Raw, Raw>>();
  private closed = false;

  constructor(readonly members: string[], private readonly timeoutMs = 5000, tls?: EtcdTls) {
    const s = etcdServices();
    const options = { "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ pick_first: {} }] }), "grpc.initial_reconnect_backoff_ms": 200, "grpc.max_reconnect_backoff_ms": 2000 };
    const creds = () => (tls ? grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure());
    this.kv = new s.KV(target(members), creds(), options);
    // Watches and keep-alives are long streams: channels of their own, so they never queue behind reads and writes.
    this.watchClient = new s.Watch(target(members), creds(), { ...options, "grpc.use_local_subchannel_pool": 1 });
    this.leaseClient = new s.Lease(target(members), creds(), { ...options, "grpc.use_local_subchannel_pool": 1 });
  }

  /** One unary call with a deadline; UNAVAILABLE (the member we were on went away) is retried on another until then. */
  private async call(client: grpc.Client, method: string, req: Raw, what: string): Promise<Raw> {
    const deadline = Date.now() + this.timeoutMs;
    const fn = (client as unknown as Record<string, Unary>)[method].bind(client);
    for (;;) {
      const out = await new Promise<{ res?: Raw; err?: grpc.ServiceError }>((resolve) => fn(req, { deadline }, (err, res) => resolve(err ? { err } : { res })));
      if (out.res) return out.res;
      const err = out.err!;
      // UNAVAILABLE: the member went away; CANCELLED: etcd dropped the request (a leader lost mid-call). Both pass.
      if ((err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.CANCELLED) && Date.now() + RETRY_MS < deadline && !this.closed) {
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      const why = err.code === grpc.status.DEADLINE_EXCEEDED ? `no answer within ${this.timeoutMs / 1000}s` : (err.details || err.message).split("\n")[0];
      const hint = /certificate|SSL|TLS|handshake/i.test(why) ? "check --etcd-cacert, --etcd-cert and --etcd-key against the members' TLS settings"
        : "etcd answers only while a quorum (a majority of its members) is up; proxies keep serving their last config meanwhile; retry once etcd is back";
      throw new StoreUnavailableError(`the etcd store (${this.members.join(",")}) cannot ${what}: ${why}; ${hint}`, { cause: err });
    }
  }

  /** Every key under `prefix`, and the store revision they were read at. */
  async range(prefix: string): Promise<{ kvs: EtcdKv[]; revision: number }> {
    const res = await this.call(this.kv, "Range", { key: Buffer.from(prefix), range_end: prefixEnd(prefix) }, `read ${prefix}`);
    return { kvs: ((res.kvs as Raw[]) ?? []).map(kvOf), revision: Number((res.header as Raw).revision) };
  }

  async get(key: string): Promise<EtcdKv | undefined> {
    const res = await this.call(this.kv, "Range", { key: Buffer.from(key) }, `read ${key}`);
    const kvs = (res.kvs as Raw[]) ?? [];
    return kvs.length ? kvOf(kvs[0]) : undefined;
  }

  /** Applies `ops` only if every guard holds; returns whether it did and the revision it was applied at. */
  async txn(guards: Guard[], ops: Op[]): Promise<{ succeeded: boolean; revision: number }> {
    const compare = guards.map((g) => ({ result: "EQUAL", target: g.target, key: Buffer.from(g.key), ...(g.target === "MOD" ? { mod_revision: String(g.equals) } : g.target === "CREATE" ? { create_revision: String(g.equals) } : { lease: String(g.equals) }) }));
    const success = ops.map((o) => ("put" in o ? { request_put: { key: Buffer.from(o.put.key), value: o.put.value, lease: o.put.lease ?? "0" } } : { request_delete_range: { key: Buffer.from(o.delete.key) } }));
    const res = await this.call(this.kv, "Txn", { compare, success, failure: [] }, `write ${ops.map((o) => ("put" in o ? o.put.key : o.delete.key)).join(", ")}`);
    return { succeeded: res.succeeded === true, revision: Number((res.header as Raw).revision) };
  }

  /** Grants a lease of `ttlS` seconds; returns its id. */
  async grantLease(ttlS: number): Promise<string> {
    const res = await this.call(this.leaseClient, "LeaseGrant", { TTL: String(ttlS), ID: "0" }, "grant a lease");
    if (res.error) throw new StoreUnavailableError(`etcd refused a lease: ${String(res.error)}`);
    return String(res.ID);
  }

  async revokeLease(id: string): Promise<void> {
    await this.call(this.leaseClient, "LeaseRevoke", { ID: id }, "revoke a lease");
  }

  /**
   * Keeps lease `id` alive every `everyMs` until stop(); `onLost` is told once etcd says it expired (a keep-alive
   * came too late, e.g. across an outage), after which the caller grants a new one.
   */
  keepAlive(id: string, everyMs: number, onLost: () => void): { stop(): void } {
    let stream: grpc.ClientDuplexStream<Raw, Raw> | undefined;
    let stopped = false;
    const open = () => {
      if (stopped || this.closed) return;
      const s = (this.leaseClient as unknown as { LeaseKeepAlive(): grpc.ClientDuplexStream<Raw, Raw> }).LeaseKeepAlive();
      stream = s;
      this.streams.add(s);
      s.on("data", (res: Raw) => {
        if (Number(res.TTL) > 0 || stopped) return;
        stopped = true;
        clearInterval(timer);
        s.cancel();
        onLost();
      });
      const ended = () => { this.streams.delete(s); if (stream === s) stream = undefined; };
      s.on("error", ended);
      s.on("end", ended);
    };
    const timer = setInterval(() => {
      if (!stream) open();
      stream?.write({ ID: id });
    }, everyMs);
    timer.unref();
    open();
    stream?.write({ ID: id });
    return { stop: () => { stopped = true; clearInterval(timer); stream?.cancel(); } };
  }

  /**
   * Watches `prefix` from `fromRevision` on; a broken stream is reopened after the last revision delivered, so no
   * event is lost or repeated. `onCompacted` is told when that revision is gone (the caller re-reads everything).
   */
  watch(prefix: string, fromRevision: number, onEvents: (events: EtcdEvent[], revision: number) => void, onCompacted: (revision: number) => void): { stop(): void } {
    let next = fromRevision;
    let stopped = false;
    let current: grpc.ClientDuplexStream<Raw, Raw> | undefined;
    let retry: NodeJS.Timeout | undefined;
    const open = () => {
      if (stopped || this.closed) return;
      const s = (this.watchClient as unknown as { Watch(): grpc.ClientDuplexStream<Raw, Raw> }).Watch();
      current = s;
      this.streams.add(s);
      s.on("data", (res: Raw) => {
        if (res.canceled) {
          if (Number(res.compact_revision) > 0) { next = Number(res.compact_revision); onCompacted(next); }
          s.cancel();
          return;
        }
        const events = ((res.events as Raw[]) ?? []).map((e) => ({ type: e.type as "PUT" | "DELETE", kv: kvOf(e.kv as Raw) }));
        if (events.length === 0) return;
        next = Math.max(next, ...events.map((e) => e.kv.modRevision + 1));
        onEvents(events, next - 1);
      });
      // A stream ends with "error" (member gone) or "end"; either way it is reopened once, after the last event.
      const ended = () => {
        this.streams.delete(s);
        if (stopped || this.closed || current !== s) return;
        current = undefined;
        retry = setTimeout(open, 500);
        retry.unref();
      };
      s.on("error", ended);
      s.on("end", ended);
      s.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: String(next), progress_notify: true } });
    };
    open();
    return { stop: () => { stopped = true; clearTimeout(retry); current?.cancel(); } };
  }

  close(): void {
    this.closed = true;
    for (const s of this.streams) s.cancel();
    this.kv.close();
    this.watchClient.close();
    this.leaseClient.close();
  }
}
