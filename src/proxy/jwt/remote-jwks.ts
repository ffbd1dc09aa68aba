// A provider's remote_jwks: the key set fetched from http_uri through its cluster, cached for cache_duration (10 min
// by default, as Envoy), fetched again when a request finds it expired (requests wait for that one fetch), retried
// per retry_policy, and after a failure not asked again for failed_refetch_duration (1 s), so a JWKS server that is
// down is not hit by every request. async_fetch fetches at load and refreshes ahead of expiry without waiting.
import { request as h1request } from "node:http";
import { request as tlsRequest } from "node:https";
import type { RemoteJwks__Output as Config } from "../../xds/generated/envoy/extensions/filters/http/jwt_authn/v3/RemoteJwks.js";
import type { UpstreamCluster } from "../upstream/cluster.js";
import { durationMs } from "../util/duration.js";
import { parseJwks, type VerifyKey } from "./jwks.js";

const MAX_BODY = 1024 * 1024;

export type ClusterLookup = (name: string) => UpstreamCluster | undefined;

export class RemoteJwks {
  private keys?: VerifyKey[];
  private fetchedAt = 0;
  private failedAt = -Infinity;
  private inflight?: Promise<void>;
  private warned = false;
  private readonly url: URL;
  private readonly cluster: string;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly refetchAfterFailureMs: number;
  private readonly background: boolean;

  constructor(config: Config, private readonly clusters: ClusterLookup, private readonly where: string) {
    const uri = config.http_uri!;
    try {
      this.url = new URL(uri.uri);
    } catch {
      throw new Error(`${where}.http_uri.uri: "${uri.uri}" is not a URL; write e.g. https://issuer.example/.well-known/jwks.json`);
    }
    if (!uri.cluster) throw new Error(`${where}.http_uri.cluster: name the cluster that reaches the JWKS server`);
    this.cluster = uri.cluster;
    this.timeoutMs = durationMs(uri.timeout, 1000);
    this.cacheMs = durationMs(config.cache_duration, 600_000);
    this.retries = config.retry_policy?.num_retries?.value ?? 0;
    this.backoffMs = durationMs(config.retry_policy?.retry_back_off?.base_interval, 1000);
    this.maxBackoffMs = durationMs(config.retry_policy?.retry_back_off?.max_interval, this.backoffMs * 10);
    this.refetchAfterFailureMs = durationMs(config.async_fetch?.failed_refetch_duration, 1000);
    this.background = !!config.async_fetch;
    if (this.background) void this.refresh();
  }

  /** The keys while fresh (async_fetch also serves them while a refresh runs), else undefined. */
  current(now = Date.now()): VerifyKey[] | undefined {
    const age = now - this.fetchedAt;
    if (this.keys && this.background && age > this.cacheMs * 0.8 && !this.inflight) void this.refresh();
    if (!this.keys) return undefined;
    return age < this.cacheMs || (this.background && this.inflight) ? this.keys : undefined;
  }

  /** A fetch to wait for when the keys are missing or expired (and the last failure is not too recent). */
  pending(now = Date.now()): Promise<void> | undefined {
    if (this.current(now)) return undefined;
    if (now - this.failedAt < this.refetchAfterFailureMs) return undefined;
    return this.refresh();
  }

  private refresh(): Promise<void> {
    return (this.inflight ??= this.fetchWithRetries().finally(() => { this.inflight = undefined; }));
  }

  private async fetchWithRetries(): Promise<void> {
    let last: Error | undefined;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(this.backoffMs * 2 ** (attempt - 1), this.maxBackoffMs)).unref());
      try {
        this.keys = parseJwks(await this.get());
        this.fetchedAt = Date.now();
        this.warned = false;
        return;
      } catch (err) {
        last = err as Error;
      }
    }
    this.failedAt = Date.now();
    if (!this.warned) console.error(`trellis proxy: ${this.where}: cannot fetch ${this.url.href} via cluster ${this.cluster}: ${last?.message}; tokens for this provider fail until it answers`);
    this.warned = true;
  }

  private get(): Promise<string> {
    const cluster = this.clusters(this.cluster);
    if (!cluster) return Promise.reject(new Error(`cluster ${this.cluster} is not configured`));
    const host = cluster.pick(undefined);
    if (!host) return Promise.reject(new Error(`cluster ${this.cluster} has no healthy host`));
    const pools = cluster.poolsFor(host);
    return new Promise((resolve, reject) => {
      const req = (pools.options.tls ? tlsRequest : h1request)({
        host: host.address, port: host.port, method: "GET", path: this.url.pathname + this.url.search, agent: pools.currentAgent(), setHost: false,
        headers: { host: this.url.host, accept: "application/json" }, timeout: this.timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new Error(`the key set is larger than ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString("utf8")) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
  }
}
