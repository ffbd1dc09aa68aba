// ADS over gRPC, state of the world (StreamAggregatedResources) and incremental (DeltaAggregatedResources, see
// delta-stream.ts): one consistent snapshot per node, pushed per type in ADS order (CDS, EDS, LDS, RDS, SDS) when its
// version changes, with nonces and ACK/NACK tracked per stream for proxy-status, and each node's ACKs of a whole
// snapshot reported to the propagation tracker (which config generation it holds) and the xDS metrics.
import * as grpc from "@grpc/grpc-js";
import { adsService, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse, structToJson } from "./ads-service.js";
import { ADS_ORDER, type AnyValue, kindOfTypeUrl, type ResourceKind, TYPE_URL } from "./resource.js";
import { snapshotProblems } from "./snapshot-consistency.js";
import { deltaDiff, type DeltaSubscription, openSubscription, refusedDeltaFields, updateSubscription } from "./delta-stream.js";
import { PropagationTracker } from "./propagation.js";
import { XdsMetrics } from "./xds-metrics.js";
import { ADS, PER_TYPE, serviceDefinition } from "./xds-services.js";
import type { AdsServerOptions, ConnectedProxy, NodeInfo, Snapshot, StreamVerdict, SyncState, TypeStatus } from "./ads-types.js";

export type { AdsServerOptions, ConnectedProxy, NodeInfo, Snapshot, StreamContext, StreamVerdict, SyncState, TypeStatus } from "./ads-types.js";

interface TypeState {
  /** Subscribed names; undefined = wildcard (LDS/CDS with no names). */
  names?: Set<string>;
  sentVersion?: string;
  sentNames?: string;
  sentNonce?: string;
  ackedVersion?: string;
  nackError?: string;
  requested: boolean;
  /** Delta streams: the subscription and what the client holds. */
  delta?: DeltaSubscription;
  /** Delta streams: a response is out and not ACKed or NACKed yet. */
  pending?: boolean;
  /** Delta streams: the type's first request has been answered (even when empty, so the client knows it was heard). */
  answered?: boolean;
}

type AnyRequest = DiscoveryRequest | DeltaDiscoveryRequest;

interface Stream {
  id: number;
  call: grpc.ServerDuplexStream<AnyRequest, DiscoveryResponse | DeltaDiscoveryResponse>;
  delta: boolean;
  /** A per-type stream (CDS, LDS, ... services) carries only this type. */
  only?: ResourceKind;
  secure: boolean;
  identity?: string;
  refused?: boolean;
  /** Requests that arrived while authorize() was deciding. */
  waiting?: AnyRequest[];
  node?: NodeInfo;
  connectedAt: Date;
  types: Map<ResourceKind, TypeState>;
  nonce: number;
}

const WILDCARD_KINDS = new Set<ResourceKind>(["cluster", "listener"]);

function status(st: TypeState | undefined, typeUrl: string): TypeStatus {
  if (!st || st.sentVersion === undefined) return { typeUrl, state: "NOT SENT" };
  const state: SyncState = st.nackError !== undefined ? "NACKED" : st.ackedVersion === st.sentVersion ? "SYNCED" : "STALE";
  return { typeUrl, state, sentVersion: st.sentVersion, ackedVersion: st.ackedVersion, nackError: st.nackError, sentNonce: st.sentNonce };
}

export class AdsServer {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly streams = new Set<Stream>();
  /** Admitted streams by node id (a node may hold several: per-type streams, a reconnect overlapping the old one). */
  private readonly byNode = new Map<string, Set<Stream>>();
  /** Per node, the snapshot whose every type its streams have ACKed (reported to the propagation tracker once). */
  private readonly heldSnapshot = new Map<string, Snapshot>();
  private nextId = 1;
  private server?: grpc.Server;
  readonly metrics = new XdsMetrics(() => this.connectionsByVersion());
  /** Which config generation each proxy holds; the control plane records writes and pushes in it. */
  readonly propagation = new PropagationTracker((s) => this.metrics.converged(s));

  constructor(private readonly options: AdsServerOptions = {}) {}

  /** Checks that every EDS name a cluster needs and every RDS name a listener needs is in the snapshot. */
  static checkConsistency(snapshot: Snapshot): string[] {
    return snapshotProblems(snapshot);
  }

  /** `generation`: the config generation the snapshot was built from (default: the tracker's current one). */
  setSnapshot(nodeId: string, snapshot: Snapshot, generation = this.propagation.generation): void {
    const problems = AdsServer.checkConsistency(snapshot);
    if (problems.length) {
      this.propagation.snapshotFailed(nodeId, generation, problems.join("; "));
      throw new Error(`inconsistent snapshot for ${nodeId}: ${problems.join("; ")}`);
    }
    const before = this.snapshots.get(nodeId);
    const snap = { ...snapshot, generation };
    this.snapshots.set(nodeId, snap);
    const changed = !before || ADS_ORDER.some((k) => before.versions[k] !== snap.versions[k]);
    this.propagation.snapshotSet(nodeId, generation, changed);
    // A node rejecting its config holds no newer change until it ACKs one: it is named at once, not waited for.
    const refusing = [...this.byNode.get(nodeId) ?? []].flatMap((s) => [...s.types.values()]).find((t) => t.nackError !== undefined);
    if (changed && refusing) this.propagation.nacked(nodeId, refusing.nackError!);
    for (const s of this.byNode.get(nodeId) ?? []) this.pushChanged(s);
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId);
  }

  clearSnapshot(nodeId: string): void {
    this.snapshots.delete(nodeId);
  }

  /**
   * One entry per node: a node with several streams (per-type xDS, or a reconnect overlapping the stream it replaces)
   * shows each type from the newest stream carrying it.
   */
  proxies(): ConnectedProxy[] {
    return [...this.byNode.values()].map((set) => {
      const streams = [...set].reverse();
      const base = this.describe(streams[0]);
      if (streams.length === 1) return base;
      return { ...base, types: ADS_ORDER.map((k) => status(streams.map((x) => x.types.get(k)).find((t) => t?.requested), TYPE_URL[k])) };
    });
  }

  /** Admitted streams by the proxy's version (node metadata ISTIO_VERSION, else its user agent): the pilot_xds gauge. */
  private connectionsByVersion(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.streams) {
      if (!s.node) continue;
      const v = String(s.node.metadata.ISTIO_VERSION ?? (s.node.userAgentName || "unknown"));
      out.set(v, (out.get(v) ?? 0) + 1);
    }
    return out;
  }

  private describe(s: Stream): ConnectedProxy {
    return {
      node: s.node!,
      streamId: s.id,
      connectedAt: s.connectedAt,
      peerAddress: s.call.getPeer(),
      secure: s.secure,
      identity: s.identity,
      protocol: s.delta ? "Delta" : "SotW",
      types: ADS_ORDER.map((k) => status(s.types.get(k), TYPE_URL[k])),
    };
  }

  /** Serves ADS on `server`; `secure` says its port is TLS, for authorize(). */
  addTo(server: grpc.Server, secure = false): void {
    server.addService(adsService().service, {
      [ADS.sotw]: (call: Stream["call"]) => this.handle(call, secure, false),
      [ADS.delta]: (call: Stream["call"]) => this.handle(call, secure, true),
    });
    // Envoy's per-type services (api_config_source): the same streams, each limited to its type.
    for (const [kind, info] of Object.entries(PER_TYPE) as Array<[ResourceKind, typeof ADS]>) {
      server.addService(serviceDefinition(info), {
        [info.sotw]: (call: Stream["call"]) => this.handle(call, secure, false, kind),
        [info.delta]: (call: Stream["call"]) => this.handle(call, secure, true, kind),
      });
    }
  }

  /** `serverOptions`: receive limits and the like (the control plane bounds what unauthenticated peers may send). */
  listen(host: string, port: number, credentials = grpc.ServerCredentials.createInsecure(), serverOptions: grpc.ServerOptions = { "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.max_send_message_length": 64 * 1024 * 1024 }): Promise<number> {
    const server = new grpc.Server(serverOptions);
    this.addTo(server, credentials._isSecure());
    this.server = server;
    return new Promise((resolve, reject) => server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))));
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.call.end();
    if (this.server) await new Promise<void>((r) => { this.server!.tryShutdown(() => r()); setTimeout(() => { this.server!.forceShutdown(); r(); }, 2000).unref(); });
  }

  private handle(call: Stream["call"], secure: boolean, delta: boolean, only?: ResourceKind): void {
    const s: Stream = { id: this.nextId++, call, delta, only, secure, connectedAt: new Date(), types: new Map(), nonce: 0 };
    this.streams.add(s);
    const end = () => {
      if (!this.streams.delete(s) || !s.node) return;
      const id = s.node.id;
      const others = this.byNode.get(id);
      others?.delete(s);
      if (!others?.size) {
        this.byNode.delete(id);
        this.heldSnapshot.delete(id);
        this.propagation.disconnected(id);
      }
      this.options.onStreamClose?.(this.describe(s));
    };
    call.on("data", (req: AnyRequest) => this.onRequest(s, req));
    call.on("end", () => { end(); call.end(); });
    call.on("error", end);
    call.on("cancelled", end);
  }

  private onRequest(s: Stream, req: AnyRequest): void {
    if (s.refused) return;
    if (s.waiting) {
      // Bounded: an unauthenticated stream may not pile up requests while it is judged.
      if (s.waiting.length < 16) s.waiting.push(req);
      return;
    }
    if (!s.node) {
      if (!req.node?.id) {
        s.call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "the first DiscoveryRequest must carry node.id" });
        return;
      }
      const node = { id: req.node.id, cluster: req.node.cluster, metadata: structToJson(req.node.metadata), userAgentName: req.node.user_agent_name, ...(req.node.locality ? { locality: { region: req.node.locality.region, zone: req.node.locality.zone, sub_zone: req.node.locality.sub_zone } } : {}) };
      const verdict = this.options.authorize?.({ node, metadata: s.call.metadata, secure: s.secure, peerAddress: s.call.getPeer() }) ?? { ok: true };
      if (verdict instanceof Promise) {
        s.waiting = [req];
        const settle = (v: StreamVerdict) => {
          const queued = s.waiting ?? [];
          s.waiting = undefined;
          if (!this.streams.has(s) || !this.admit(s, node, v)) return;
          for (const r of queued) this.onRequest(s, r);
        };
        verdict.then(settle, (err: Error) => settle({ ok: false, code: grpc.status.UNAVAILABLE, message: `cannot authenticate node ${node.id} now: ${err.message}` }));
        return;
      }
      if (!this.admit(s, node, verdict)) return;
    }
    const kind = kindOfTypeUrl(req.type_url);
    if (!kind) return; // unknown types are ignored, as Envoy's servers do
    if (s.only && kind !== s.only) {
      s.refused = true;
      s.call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: `this stream carries only ${TYPE_URL[s.only]}, not ${req.type_url}: use a stream of that type's service, or ADS for several types` });
      return;
    }
    if (s.delta) this.onDeltaRequest(s, kind, req as DeltaDiscoveryRequest);
    else this.onSotwRequest(s, kind, req as DiscoveryRequest);
    this.checkHeld(s);
  }

  private nack(s: Stream, kind: ResourceKind, version: string | undefined, error: string): void {
    this.metrics.rejected(kind);
    this.propagation.nacked(s.node!.id, error);
    this.options.onNack?.(this.describe(s), TYPE_URL[kind], version, error);
  }

  private onSotwRequest(s: Stream, kind: ResourceKind, req: DiscoveryRequest): void {
    const st = s.types.get(kind) ?? { requested: false };
    s.types.set(kind, st);
    if (req.response_nonce) {
      if (req.response_nonce !== st.sentNonce) return; // stale: a newer response is on its way
      if (req.error_detail) {
        st.nackError = req.error_detail.message;
        this.nack(s, kind, req.version_info || undefined, req.error_detail.message);
      } else {
        st.ackedVersion = req.version_info;
        st.nackError = undefined;
        this.options.onAck?.(this.describe(s), req.type_url, req.version_info);
      }
    }
    const names = req.resource_names.length === 0 && WILDCARD_KINDS.has(kind) ? undefined : new Set(req.resource_names);
    const changed = !st.requested || JSON.stringify([...(names ?? [])].sort()) !== JSON.stringify([...(st.names ?? [])].sort()) || (names === undefined) !== (st.names === undefined);
    st.names = names;
    st.requested = true;
    if (changed) this.push(s, kind, true);
  }

  /** Serves the stream as `node`, or ends it with the verdict's status; true when admitted. */
  private admit(s: Stream, node: NodeInfo, verdict: StreamVerdict): boolean {
    if (!verdict.ok) {
      s.refused = true;
      this.streams.delete(s);
      s.call.emit("error", { code: verdict.code, details: verdict.message });
      return false;
    }
    s.identity = verdict.identity;
    s.node = node;
    const mine = this.byNode.get(node.id) ?? new Set<Stream>();
    mine.add(s);
    this.byNode.set(node.id, mine);
    this.options.onStreamOpen?.(this.describe(s));
    return true;
  }

  /**
   * Incremental: an ACK or NACK names its nonce (a NACK of an older response still counts: that config was
   * refused); subscription changes and a type's first request are answered with what the client lacks.
   */
  private onDeltaRequest(s: Stream, kind: ResourceKind, req: DeltaDiscoveryRequest): void {
    const refused = refusedDeltaFields(req);
    if (refused) {
      s.refused = true;
      s.call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: refused });
      return;
    }
    let st = s.types.get(kind);
    if (req.response_nonce && st) {
      if (req.error_detail) {
        st.pending = req.response_nonce === st.sentNonce ? false : st.pending;
        st.nackError = req.error_detail.message;
        this.nack(s, kind, st.sentVersion, req.error_detail.message);
      } else if (req.response_nonce === st.sentNonce) {
        st.pending = false;
        st.ackedVersion = st.sentVersion;
        st.nackError = undefined;
        this.options.onAck?.(this.describe(s), req.type_url, st.sentVersion ?? "");
      }
    }
    if (!st?.delta) {
      st = { requested: true, delta: openSubscription(kind, req) };
      s.types.set(kind, st);
      this.pushDelta(s, kind, "first");
    } else if (updateSubscription(st.delta, req)) this.pushDelta(s, kind, "subscription");
  }

  private pushChanged(s: Stream): void {
    for (const kind of ADS_ORDER) {
      if (s.delta) this.pushDelta(s, kind, "snapshot");
      else this.push(s, kind, false);
    }
    this.checkHeld(s);
  }

  /** `why`: a type's first request, a subscription change, or a new snapshot (a type whose version is unchanged is skipped). */
  private pushDelta(s: Stream, kind: ResourceKind, why: "first" | "subscription" | "snapshot"): void {
    const st = s.types.get(kind);
    const snap = s.node && this.snapshots.get(s.node.id);
    const version = snap?.versions[kind];
    if (!st?.delta || !snap || version === undefined) return;
    if (why === "snapshot" && st.answered && st.sentVersion === version) return;
    const always = why === "first";
    const res = deltaDiff(st.delta, TYPE_URL[kind], version, snap.resources[kind] ?? new Map(), always || !st.answered);
    st.sentVersion = version;
    if (!res) {
      // Nothing this client wants changed: it holds this version once what is in flight is ACKed.
      if (!st.pending && st.nackError === undefined) st.ackedVersion = version;
      return;
    }
    const nonce = `${s.id}-${++s.nonce}`;
    st.sentNonce = nonce;
    st.pending = true;
    st.answered = true;
    this.metrics.pushed(kind);
    s.call.write({ ...res, nonce });
  }

  /**
   * Reports the node's generation to the tracker once its streams (one ADS stream, or one per type) have ACKed every
   * type of its snapshot that they asked for.
   */
  private checkHeld(s: Stream): void {
    const id = s.node?.id;
    const snap = id !== undefined ? this.snapshots.get(id) : undefined;
    if (!snap || this.heldSnapshot.get(id!) === snap) return;
    // Newest first: a stream a reconnect replaced, not yet seen closing, does not speak for the node.
    const streams = [...(this.byNode.get(id!) ?? [])].reverse();
    const stateOf = (kind: ResourceKind) => streams.map((x) => x.types.get(kind)).find((st) => st?.requested);
    // Every client asks for listeners (Envoy, grpc-js-xds, ours); before it has, it holds nothing yet.
    if (!stateOf("listener")) return;
    for (const kind of ADS_ORDER) {
      const st = stateOf(kind);
      const version = snap.versions[kind];
      if (version === undefined || !st) continue;
      if (st.nackError !== undefined || st.ackedVersion !== version) return;
    }
    this.heldSnapshot.set(id!, snap);
    this.propagation.held(id!, snap.generation ?? 0);
  }

  private push(s: Stream, kind: ResourceKind, force: boolean): void {
    const st = s.types.get(kind);
    if (!st?.requested || !s.node) return;
    const snap = this.snapshots.get(s.node.id);
    if (!snap) return;
    const version = snap.versions[kind];
    if (version === undefined) return;
    const all = snap.resources[kind] ?? new Map<string, AnyValue>();
    const selected = st.names ? [...st.names].filter((n) => all.has(n)) : [...all.keys()];
    const namesKey = selected.sort().join("\n");
    if (!force && st.sentVersion === version && st.sentNames === namesKey) return;
    if (force && st.sentVersion === version && st.sentNames === namesKey && st.ackedVersion === version) return;
    const nonce = `${s.id}-${++s.nonce}`;
    st.sentVersion = version;
    st.sentNames = namesKey;
    st.sentNonce = nonce;
    this.metrics.pushed(kind);
    s.call.write({ version_info: version, resources: selected.map((n) => all.get(n)!), type_url: TYPE_URL[kind], nonce });
  }
}
