// The proxy's side of ADS: subscribes to CDS and LDS, then to the EDS/RDS names they need; validates every response
// through the caller's apply(), ACKs what applied and NACKs (with the error) what did not; reconnects with backoff.
// Given several control-plane replicas it fails over: a lost or refused stream moves to the next address at once,
// and backoff starts only when every address has failed in a row. The last applied config keeps serving meanwhile,
// and the new stream resyncs from the versions already held.
import * as grpc from "@grpc/grpc-js";
import { adsService, type DiscoveryRequest, type DiscoveryResponse, jsonToStruct } from "./ads-service.js";
import { decodeAny, kindOfTypeUrl, type ResourceKind, TYPE_URL } from "./resource.js";
import { type FieldError, formatErrors, type Result } from "./result.js";

export interface AdsClientOptions {
  /** One "host:port", or several replicas' (an array, or comma-separated), tried in turn. */
  target: string | string[];
  /** A function is asked again at each (re)connect; a new value opens a new channel (e.g. a rotated trust bundle). */
  credentials?: grpc.ChannelCredentials | (() => grpc.ChannelCredentials);
  /** Channel options, such as the TLS name the server's certificate must carry. */
  channelOptions?: grpc.ChannelOptions;
  /** Call metadata for each new stream (read per connect, so a refreshed token is sent on reconnect). */
  metadata?: () => grpc.Metadata;
  node: { id: string; cluster: string; metadata?: Record<string, unknown>; locality?: { region?: string; zone?: string; sub_zone?: string } };
  apply(kind: ResourceKind, resources: Map<string, unknown>, removed: string[], version: string): Result<void> | Promise<Result<void>>;
  subscriptions(): { endpoint: string[]; route: string[]; secret: string[] };
  backoff?: { baseMs: number; maxMs: number };
  onConnectionState?(state: "connecting" | "connected" | "disconnected", error?: Error): void;
}

const PARENT_OF: Partial<Record<ResourceKind, ResourceKind[]>> = { cluster: ["endpoint", "secret"], listener: ["route", "secret"] };

function nameOf(kind: ResourceKind, obj: Record<string, unknown>): string {
  return String(kind === "endpoint" ? obj.cluster_name : obj.name);
}

export class AdsClient {
  private client: grpc.Client;
  private clientCredentials: grpc.ChannelCredentials;
  private call?: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  private readonly acked = new Map<ResourceKind, string>();
  private readonly known = new Map<ResourceKind, Set<string>>();
  private readonly sentNames = new Map<ResourceKind, string>();
  private attempt = 0;
  private readonly targets: string[];
  private targetIndex = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private first = true;
  /** Responses are applied one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: AdsClientOptions) {
    this.targets = (Array.isArray(options.target) ? options.target : options.target.split(",")).map((t) => t.trim()).filter(Boolean);
    if (this.targets.length === 0) throw new Error("ADS client: no xDS server address given");
    this.clientCredentials = this.currentCredentials();
    this.client = this.makeClient();
  }

  private currentCredentials(): grpc.ChannelCredentials {
    const c = this.options.credentials;
    return (typeof c === "function" ? c() : c) ?? grpc.credentials.createInsecure();
  }

  private clientTarget = "";

  private makeClient(): grpc.Client {
    this.clientTarget = this.targets[this.targetIndex];
    const Client = adsService();
    return new Client(this.targets[this.targetIndex], this.clientCredentials, { "grpc.max_receive_message_length": 64 * 1024 * 1024, ...this.options.channelOptions });
  }

  start(): void {
    this.connect();
  }

  /** The xDS server address in use now. */
  currentTarget(): string {
    return this.targets[this.targetIndex];
  }

  versions(): Partial<Record<ResourceKind, string>> {
    return Object.fromEntries(this.acked);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.call?.cancel();
    this.client.close();
  }

  private connect(): void {
    if (this.closed) return;
    this.options.onConnectionState?.("connecting");
    this.first = true;
    this.sentNames.clear();
    const credentials = this.currentCredentials();
    if (credentials !== this.clientCredentials || this.clientTarget !== this.targets[this.targetIndex]) {
      this.client.close();
      this.clientCredentials = credentials;
      this.client = this.makeClient();
    }
    const call = (this.client as unknown as { StreamAggregatedResources(md?: grpc.Metadata): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamAggregatedResources(this.options.metadata?.());
    this.call = call;
    let connected = false;
    call.on("data", (res: DiscoveryResponse) => {
      if (!connected) {
        connected = true;
        this.attempt = 0;
        this.options.onConnectionState?.("connected");
      }
      this.queue = this.queue.then(() => this.onResponse(call, res)).catch(() => {});
    });
    const retry = (err?: Error) => {
      if (this.call !== call || this.closed) return;
      this.call = undefined;
      this.options.onConnectionState?.("disconnected", err);
      const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 500, maxMs: 30_000 };
      // Another replica is tried at once; a full round of failures backs off before the next round.
      const failed = this.attempt++;
      const n = this.targets.length;
      this.targetIndex = (this.targetIndex + 1) % n;
      const round = Math.floor(failed / n);
      const delay = n > 1 && failed % n !== n - 1 ? 50 : Math.min(maxMs, baseMs * 2 ** round) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
      this.timer.unref?.();
    };
    call.on("error", (err: Error) => retry(err));
    call.on("end", () => retry());
    // Wildcard subscriptions first, with the versions already held, so a reconnect can resume.
    this.request(call, "cluster", []);
    this.request(call, "listener", []);
    this.updateSubscriptionsOn(call);
  }

  /** Re-reads subscriptions() and asks for EDS/RDS/SDS names that changed. */
  updateSubscriptions(): void {
    if (this.call) this.updateSubscriptionsOn(this.call);
  }

  private updateSubscriptionsOn(call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    const subs = this.options.subscriptions();
    for (const kind of ["endpoint", "route", "secret"] as const) {
      const names = [...new Set(subs[kind])].sort();
      const key = names.join("\n");
      if (this.sentNames.get(kind) === key || (names.length === 0 && !this.sentNames.has(kind))) continue;
      this.request(call, kind, names);
    }
  }

  private request(call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>, kind: ResourceKind, names: string[], nonce = "", error?: FieldError[]): void {
    this.sentNames.set(kind, names.join("\n"));
    const n = this.options.node;
    call.write({
      version_info: this.acked.get(kind) ?? "",
      node: this.first ? { id: n.id, cluster: n.cluster, metadata: jsonToStruct(n.metadata ?? {}), locality: n.locality ? { region: n.locality.region ?? "", zone: n.locality.zone ?? "", sub_zone: n.locality.sub_zone ?? "" } : null, user_agent_name: "trellis" } : null,
      resource_names: names,
      type_url: TYPE_URL[kind],
      response_nonce: nonce,
      error_detail: error ? { code: grpc.status.INVALID_ARGUMENT, message: formatErrors(error) } : null,
    });
    this.first = false;
  }

  private async onResponse(call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>, res: DiscoveryResponse): Promise<void> {
    const kind = kindOfTypeUrl(res.type_url);
    if (!kind || this.call !== call) return;
    const names = kind === "cluster" || kind === "listener" ? [] : (this.sentNames.get(kind) ?? "").split("\n").filter(Boolean);
    const decoded = new Map<string, unknown>();
    const errors: FieldError[] = [];
    res.resources.forEach((any, i) => {
      if (any.type_url !== res.type_url) {
        errors.push({ path: `resources[${i}]`, message: `type ${any.type_url} in a ${res.type_url} response` });
        return;
      }
      const r = decodeAny<Record<string, unknown>>(any, `resources[${i}]`);
      if (!r.ok) errors.push(...r.errors.map((e) => ({ ...e, path: `${kind} resource ${i}: ${e.path}` })));
      else decoded.set(nameOf(kind, r.value), r.value);
    });
    let result: Result<void> = errors.length ? { ok: false, errors } : { ok: true, value: undefined };
    if (result.ok) {
      const before = this.known.get(kind) ?? new Set<string>();
      const removed = [...before].filter((n) => !decoded.has(n));
      try {
        result = await this.options.apply(kind, decoded, removed, res.version_info);
      } catch (err) {
        result = { ok: false, errors: [{ path: "", message: (err as Error).message }] };
      }
      if (result.ok) {
        this.known.set(kind, new Set(decoded.keys()));
        this.acked.set(kind, res.version_info);
      }
    }
    if (this.call !== call) return;
    this.request(call, kind, names, res.nonce, result.ok ? undefined : result.errors);
    if (result.ok && PARENT_OF[kind]) this.updateSubscriptionsOn(call);
  }
}
