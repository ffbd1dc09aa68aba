// The proxy's xDS client: one stream (ADS, or a per-type stream for an api_config_source) in state of the world
// (sotw-client.ts) or incremental form (delta-client.ts); each response is validated through the caller's apply(),
// ACKed when it applied and NACKed (with the error) when not; reconnects with backoff. Given several control-plane
// replicas it fails over: a lost or refused stream moves to the next address at once, and backoff starts only when
// every address has failed in a row. The last applied config keeps serving meanwhile, and the new stream resyncs
// from what is already held.
import * as grpc from "@grpc/grpc-js";
import { adsService } from "./ads-service.js";
import { DeltaClient } from "./delta-client.js";
import { ADS_ORDER, type ResourceKind } from "./resource.js";
import { SotwClient } from "./sotw-client.js";
import type { ClientProtocol, XdsClientHandlers } from "./xds-client-protocol.js";
import { ADS, openXdsStream, PER_TYPE, type XdsProtocol } from "./xds-services.js";

export interface AdsClientOptions extends XdsClientHandlers {
  /** One "host:port", or several replicas' (an array, or comma-separated), tried in turn. */
  target: string | string[];
  /** A function is asked again at each (re)connect; a new value opens a new channel (e.g. a rotated trust bundle). */
  credentials?: grpc.ChannelCredentials | (() => grpc.ChannelCredentials);
  /** Channel options, such as the TLS name the server's certificate must carry. */
  channelOptions?: grpc.ChannelOptions;
  /** Call metadata for each new stream (read per connect, so a refreshed token is sent on reconnect). */
  metadata?: () => grpc.Metadata;
  /** "sotw" (the default: api_type GRPC) or "delta" (api_type DELTA_GRPC). */
  protocol?: XdsProtocol;
  /** A per-type stream (api_config_source) carrying only this type; default: ADS carrying every type. */
  only?: ResourceKind;
  /** ADS: types it does not carry (their lds_config / cds_config names another source). */
  except?: ResourceKind[];
  backoff?: { baseMs: number; maxMs: number };
  onConnectionState?(state: "connecting" | "connected" | "disconnected", error?: Error): void;
}

export class AdsClient {
  private client: grpc.Client;
  private clientCredentials: grpc.ChannelCredentials;
  private call?: grpc.ClientDuplexStream<unknown, unknown>;
  private readonly protocol: ClientProtocol;
  private attempt = 0;
  private readonly targets: string[];
  private targetIndex = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** Responses are applied one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: AdsClientOptions) {
    this.targets = (Array.isArray(options.target) ? options.target : options.target.split(",")).map((t) => t.trim()).filter(Boolean);
    if (this.targets.length === 0) throw new Error("ADS client: no xDS server address given");
    const kinds = new Set<ResourceKind>(options.only ? [options.only] : ADS_ORDER.filter((k) => !options.except?.includes(k)));
    this.protocol = options.protocol === "delta" ? new DeltaClient(options, kinds) : new SotwClient(options, kinds);
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
    return this.protocol.versions();
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
    const credentials = this.currentCredentials();
    if (credentials !== this.clientCredentials || this.clientTarget !== this.targets[this.targetIndex]) {
      this.client.close();
      this.clientCredentials = credentials;
      this.client = this.makeClient();
    }
    const service = this.options.only ? PER_TYPE[this.options.only] : ADS;
    const call = openXdsStream<unknown, unknown>(this.client, service, this.options.protocol ?? "sotw", this.options.metadata?.());
    this.call = call;
    let connected = false;
    call.on("data", (res: unknown) => {
      if (!connected) {
        connected = true;
        this.attempt = 0;
        this.options.onConnectionState?.("connected");
      }
      this.queue = this.queue.then(() => this.protocol.onResponse(call, res, () => this.call === call && !this.closed)).catch(() => {});
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
    this.protocol.open(call);
  }

  /** Re-reads subscriptions() and asks for EDS/RDS/SDS names that changed. */
  updateSubscriptions(): void {
    if (this.call) this.protocol.updateSubscriptions(this.call);
  }
}
