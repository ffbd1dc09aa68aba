// envoy.filters.http.router: picks the cluster and host, applies circuit breakers, sends the request over a pooled
// connection, retries and times out as the route says, and streams the response back (trailers included).
import { type Transform, Writable } from "node:stream";
import type { ClientHttp2Stream, IncomingHttpHeaders as H2Headers } from "node:http2";
import { type Endpoint, workloadOf } from "../upstream/endpoint.js";
import { hash32 } from "../upstream/load-balancer.js";
import type { UpstreamCluster } from "../upstream/cluster.js";
import { isHandshakeFailure } from "../upstream/connection-pools.js";
import { ClientExchange } from "../http1/client-exchange.js";
import { safeFieldValue } from "../http1/head-parser.js";
import type { Http1Response } from "../http1/server-messages.js";
import type { Stats } from "../stats/stats.js";
import { PEER_HEADER } from "../stats/istio-metrics.js";
import { localReply } from "./local-reply.js";
import { cookieValue } from "./cookies.js";
import { chance, pickCluster, rewritePath, type RetryConfig, type RouteAction } from "./route-table.js";
import type { StreamContext } from "./stream-context.js";

type Forward = Extract<RouteAction, { kind: "forward" }>;

/** Headers that describe one hop and must not be forwarded (RFC 9110 7.6.1, plus HTTP/2's pseudo-headers). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host", "http2-settings"]);
const REQUEST_BODY_REPLAY_LIMIT = 64 * 1024;

export interface ClusterLookup {
  (name: string): UpstreamCluster | undefined;
}

interface Attempt {
  host: Endpoint;
  abort(): void;
}

type UpstreamOutcome =
  | { kind: "response"; status: number; headers: Record<string, string | string[] | undefined>; body: ResponseBody; trailers: () => Record<string, string> | undefined; grpcStatus?: string }
  | { kind: "failure"; reason: "connect-failure" | "reset" | "timeout"; message: string };

/** An upstream response body, from an HTTP/1.1 exchange or an HTTP/2 stream. */
interface ResponseBody {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "error", listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** Where the router writes a request body: an upstream exchange or stream. */
interface BodySink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: "drain", listener: () => void): unknown;
}

/** Where a request body goes when no upstream connection could even be attempted (the failure is reported apart). */
function discardSink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** Ends the upstream request, passing the downstream's request trailers on where the upstream can carry them. */
function endUpstream(sink: BodySink, req: StreamContext["req"]): void {
  const trailers = (req as { trailers?: Record<string, string> }).trailers;
  if (sink instanceof ClientExchange && trailers && Object.keys(trailers).length > 0) sink.end(trailers);
  else sink.end();
}

/** Whether the downstream request carries a body whose length is not known up front (sent on chunked). */
function requestHasBody(ctx: StreamContext): boolean {
  const req = ctx.req as { httpVersionMajor?: number; headers: Record<string, unknown>; stream?: { endAfterHeaders?: boolean }; readableEnded?: boolean };
  if (req.httpVersionMajor === 2) return !req.stream?.endAfterHeaders;
  return req.headers["transfer-encoding"] !== undefined;
}

function requestHash(ctx: StreamContext, action: Forward): number | undefined {
  let h: number | undefined;
  for (const p of action.hashPolicies) {
    let v: string | undefined;
    switch (p.kind) {
      case "header": v = ctx.view.header(p.name); break;
      case "cookie": v = cookieValue(ctx.view.header("cookie"), p.name); break;
      case "source_ip": v = ctx.conn.remoteAddress; break;
      case "query_parameter": v = ctx.view.query().get(p.name) ?? undefined; break;
    }
    if (v === undefined) continue;
    const x = hash32(v);
    h = h === undefined ? x : (Math.imul(h, 31) + x) >>> 0;
    if (p.terminal) break;
  }
  return h;
}

function retriable(retry: RetryConfig, outcome: UpstreamOutcome): boolean {
  const on = retry.retryOn;
  if (outcome.kind === "failure") {
    if (outcome.reason === "connect-failure") return on.has("connect-failure") || on.has("5xx") || on.has("gateway-error") || on.has("reset");
    return on.has("reset") || on.has("5xx") || on.has("gateway-error");
  }
  const s = outcome.status;
  if (on.has("5xx") && s >= 500) return true;
  if (on.has("gateway-error") && (s === 502 || s === 503 || s === 504)) return true;
  if (on.has("retriable-4xx") && s === 409) return true;
  if (on.has("retriable-status-codes") && retry.retriableStatusCodes.has(s)) return true;
  const g = outcome.grpcStatus;
  if (g !== undefined) {
    if (on.has("cancelled") && g === "1") return true;
    if (on.has("deadline-exceeded") && g === "4") return true;
    if (on.has("resource-exhausted") && g === "8") return true;
    if (on.has("internal") && g === "13") return true;
    if (on.has("unavailable") && g === "14") return true;
  }
  return false;
}

export class Router {
  constructor(private readonly clusters: ClusterLookup, private readonly stats: Stats) {}

  cluster(name: string): UpstreamCluster | undefined {
    return this.clusters(name);
  }

  route(ctx: StreamContext, action: Forward): void {
    const choice = pickCluster(action, ctx.view);
    const cluster = choice ? this.clusters(choice.name) : undefined;
    if (!choice || !cluster) {
      this.stats.inc("http.no_cluster");
      localReply(ctx, action.notFoundStatus, "no healthy upstream", "NC");
      return;
    }
    ctx.upstreamCluster = cluster.name;
    if (cluster.istioService) ctx.upstreamService = cluster.istioService;
    const cs = `cluster.${cluster.name}`;
    if (cluster.activeRequests >= cluster.breakers.maxRequests || cluster.pending() >= cluster.breakers.maxPendingRequests) {
      this.stats.inc(`${cs}.upstream_rq_pending_overflow`);
      // Envoy's router marks what its circuit breakers refused, so callers can tell overload from a failing upstream.
      localReply(ctx, 503, "upstream connect error or disconnect/reset before headers. reset reason: overflow", "UO", { "x-envoy-overloaded": "true" });
      return;
    }
    // Per-request header changes: route, weighted cluster, path rewrite, host rewrite.
    const headers = ctx.upstreamHeaders;
    // Istio keeps its peer metadata inside the mesh: MESH_EXTERNAL clusters never see it.
    if (cluster.external) delete headers[PEER_HEADER];
    ctx.route!.requestHeaders.apply(headers);
    choice.requestHeaders.apply(headers);
    const path = rewritePath(action, ctx.view.path);
    if (path !== ctx.view.path) headers["x-envoy-original-path"] = ctx.view.path;
    const authority = action.hostRewrite ?? ctx.view.authority;
    if (action.hostRewrite || action.autoHostRewrite) headers["x-forwarded-host"] = ctx.view.authority;
    const hash = requestHash(ctx, action);
    const retry = action.retry;
    const body: Buffer[] = [];
    let bodyBytes = 0;
    let replayable = true;
    const collecting = retry !== undefined && retry.numRetries > 0;
    const deadline = action.timeoutMs > 0 ? Date.now() + action.timeoutMs : 0;
    let attempts = 0;
    // Hosts already tried, kept only when the retry policy steers away from them.
    const tried = retry?.previousHosts ? new Set<string>() : undefined;
    let globalTimer: NodeJS.Timeout | undefined;
    let current: Attempt | undefined;
    let finished = false;
    cluster.activeRequests++;
    this.stats.gauge(cluster.rqStats.active, 1);
    const done = () => {
      if (finished) return;
      finished = true;
      cluster.activeRequests--;
      this.stats.gauge(cluster.rqStats.active, -1);
      if (globalTimer) clearTimeout(globalTimer);
    };
    ctx.cancelUpstream = () => {
      current?.abort();
      done();
    };
    ctx.res.once("close", () => {
      if (!ctx.res.writableFinished) {
        ctx.flags.push("DC");
        current?.abort();
      }
      done();
    });
    if (deadline) {
      globalTimer = setTimeout(() => {
        current?.abort();
        this.stats.inc(`${cs}.upstream_rq_timeout`);
        localReply(ctx, 504, "upstream request timeout", "UT");
        done();
      }, action.timeoutMs);
    }
    const mirrorBody = action.mirrors.length > 0;

    const attempt = (downstreamBody: "stream" | "replay") => {
      attempts++;
      const skip = tried && tried.size > 0 ? (e: Endpoint) => tried.has(e.key) : undefined;
      const host = cluster.type === "ORIGINAL_DST" && ctx.conn.originalDst
        ? cluster.originalDestinationHost(ctx.conn.originalDst.address, ctx.conn.originalDst.port)
        // previous_hosts only steers: once every host has been tried, Envoy takes one anyway rather than fail.
        : cluster.pick(hash, skip) ?? (skip ? cluster.pick(hash) : undefined);
      if (!host) {
        this.stats.inc(`${cs}.upstream_cx_none_healthy`);
        localReply(ctx, 503, "no healthy upstream", "UH");
        done();
        return;
      }
      tried?.add(host.key);
      ctx.upstreamHost = host.key;
      ctx.upstreamWorkload = workloadOf(host);
      host.activeRequests++;
      const perTry = retry && retry.perTryTimeoutMs > 0 ? retry.perTryTimeoutMs : 0;
      const sentAt = Date.now();
      const onOutcome = (outcome: UpstreamOutcome) => {
        host.activeRequests--;
        cluster.recordResult(host, outcome.kind === "response" ? outcome.status : outcome.reason);
        if (ctx.responded || finished) {
          if (outcome.kind === "response") (outcome.body as { resume?: () => void }).resume?.();
          return;
        }
        // Counted whenever a try is cut short, retried or not, as Envoy counts it.
        if (perTry > 0 && outcome.kind === "failure" && outcome.reason === "timeout") this.stats.inc(`${cs}.upstream_rq_per_try_timeout`);
        const canRetry = retry && attempts <= retry.numRetries && replayable && retriable(retry, outcome) && (!deadline || Date.now() < deadline);
        if (canRetry) {
          if (cluster.activeRetries >= cluster.breakers.maxRetries) {
            this.stats.inc(`${cs}.upstream_rq_retry_overflow`);
          } else {
            if (outcome.kind === "response") (outcome.body as { resume?: () => void }).resume?.();
            this.stats.inc(`${cs}.upstream_rq_retry`);
            cluster.activeRetries++;
            const backoff = Math.min(retry!.maxIntervalMs, retry!.baseIntervalMs * 2 ** (attempts - 1)) * Math.random();
            setTimeout(() => {
              cluster.activeRetries--;
              if (!ctx.responded && !finished) attempt("replay");
            }, backoff).unref();
            return;
          }
        }
        if (retry && attempts > 1 && outcome.kind !== "response") ctx.flags.push("URX");
        if (outcome.kind === "failure") {
          const flag = outcome.reason === "connect-failure" ? "UF" : outcome.reason === "timeout" ? "UT" : "UC";
          if (outcome.reason !== "timeout") this.stats.inc(`${cs}.upstream_rq_pending_failure_eject`);
          else if (perTry === 0) this.stats.inc(`${cs}.upstream_rq_timeout`);
          if (outcome.reason === "timeout") localReply(ctx, 504, "upstream request timeout", flag);
          else localReply(ctx, 503, `upstream connect error or disconnect/reset before headers. reset reason: ${outcome.reason === "connect-failure" ? "connection failure" : "connection termination"}${outcome.message ? `, transport failure reason: ${outcome.message}` : ""}`, flag);
          done();
          return;
        }
        if (retry && attempts > 1 && retriable(retry, outcome)) ctx.flags.push("URX");
        this.respond(ctx, outcome, choice, cluster, sentAt, done);
      };
      // auto_host_rewrite: the chosen host's name (a DNS cluster's, or an endpoint's hostname), per attempt.
      const hostAuthority = action.autoHostRewrite && host.hostname ? host.hostname : authority;
      // Only a retry changes the headers it sends; the first attempt sends them as they are.
      const reqHeaders = attempts > 1 ? { ...headers, "x-envoy-attempt-count": String(attempts) } : headers;
      const a = cluster.http2
        ? this.sendH2(cluster, host, ctx, path, hostAuthority, reqHeaders, perTry, onOutcome)
        : this.sendH1(cluster, host, ctx, path, hostAuthority, reqHeaders, perTry, onOutcome);
      current = a.attempt;
      const upstream = a.sink;
      if (downstreamBody === "replay") {
        for (const chunk of body) upstream.write(chunk);
        upstream.end();
      }
      return upstream;
    };

    const first = attempt("stream");
    if (!first) return;
    const req = ctx.req;
    if (collecting || mirrorBody) {
      req.on("data", (chunk: Buffer) => {
        ctx.bytesReceived += chunk.length;
        ctx.idleTimer?.refresh();
        if (replayable) {
          bodyBytes += chunk.length;
          if (bodyBytes > REQUEST_BODY_REPLAY_LIMIT) {
            replayable = false;
            body.length = 0;
          } else body.push(chunk);
        }
        if (!first.write(chunk)) {
          req.pause();
          first.once("drain", () => req.resume());
        }
      });
      req.on("end", () => endUpstream(first, req));
    } else {
      req.on("data", (chunk: Buffer) => {
        ctx.bytesReceived += chunk.length;
        ctx.idleTimer?.refresh();
        if (!first.write(chunk)) {
          req.pause();
          first.once("drain", () => req.resume());
        }
      });
      req.on("end", () => endUpstream(first, req));
    }
    for (const m of action.mirrors) {
      const name = m.clusterHeader ? ctx.view.header(m.clusterHeader) : m.cluster;
      if (name && chance(m.fraction())) this.mirror(ctx, name, path, m.keepAuthority ? authority : shadowOf(authority), headers, req);
    }
  }

  /** Sends a copy of the request to the mirror cluster and ignores its answer. */
  private mirror(ctx: StreamContext, clusterName: string, path: string, shadowAuthority: string, headers: Record<string, string | string[] | undefined>, req: StreamContext["req"]): void {
    const cluster = this.clusters(clusterName);
    const host = cluster?.pick(undefined);
    if (!cluster || !host) return;
    const sink = cluster.http2
      ? this.sendH2(cluster, host, ctx, path, shadowAuthority, { ...headers }, 0, (o) => { if (o.kind === "response") (o.body as { resume?: () => void }).resume?.(); }).sink
      : this.sendH1(cluster, host, ctx, path, shadowAuthority, { ...headers }, 0, (o) => { if (o.kind === "response") (o.body as { resume?: () => void }).resume?.(); }).sink;
    req.on("data", (c: Buffer) => sink.write(c));
    req.on("end", () => sink.end());
    this.stats.inc(`cluster.${clusterName}.upstream_rq_shadow`);
  }

  private sendH1(cluster: UpstreamCluster, host: Endpoint, ctx: StreamContext, path: string, authority: string, headers: Record<string, string | string[] | undefined>, perTryMs: number, onOutcome: (o: UpstreamOutcome) => void): { attempt: Attempt; sink: BodySink } {
    let head = `${ctx.view.method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n`;
    for (const k in headers) {
      const v = headers[k];
      if (v === undefined || HOP_BY_HOP.has(k) || k.charCodeAt(0) === 58 /* ':' */) continue;
      if (typeof v === "string") {
        if (safeFieldValue(v)) head += `${k}: ${v}\r\n`;
      } else for (const x of v) if (safeFieldValue(x)) head += `${k}: ${x}\r\n`;
    }
    const framing = headers["content-length"] !== undefined ? "length" : requestHasBody(ctx) ? "chunked" : "none";
    if (framing === "chunked") head += "transfer-encoding: chunked\r\n";
    head += "\r\n";
    let settled = false;
    let tryTimer: NodeJS.Timeout | undefined;
    const settle = (o: UpstreamOutcome) => {
      if (settled) return;
      settled = true;
      if (tryTimer) clearTimeout(tryTimer);
      onOutcome(o);
    };
    const exchange = new ClientExchange(head, framing, ctx.view.method, {
      onResponse: (status, resHeaders, body) => {
        const grpcStatus = resHeaders["grpc-status"];
        settle({ kind: "response", status, headers: resHeaders, body, trailers: () => body.trailers, grpcStatus: typeof grpcStatus === "string" ? grpcStatus : undefined });
      },
      onFailure: (f) => {
        // A failed TLS handshake is a failed connection too (Envoy: UF, "transport failure reason").
        const connect = f.reason === "connect-failure" || isHandshakeFailure(f.error);
        if (connect) this.stats.inc(`cluster.${cluster.name}.upstream_cx_connect_fail`);
        settle({ kind: "failure", reason: connect ? "connect-failure" : "reset", message: f.message });
      },
    });
    if (perTryMs > 0) tryTimer = setTimeout(() => { settle({ kind: "failure", reason: "timeout", message: "per-try timeout" }); exchange.abort(); }, perTryMs);
    cluster.poolsFor(host).h1.request(host.address, host.port, exchange);
    return { attempt: { host, abort: () => exchange.abort() }, sink: exchange };
  }

  private sendH2(cluster: UpstreamCluster, host: Endpoint, ctx: StreamContext, path: string, authority: string, headers: Record<string, string | string[] | undefined>, perTryMs: number, onOutcome: (o: UpstreamOutcome) => void): { attempt: Attempt; sink: ClientHttp2Stream } {
    const out: Record<string, string | string[]> = { ":method": ctx.view.method, ":path": path, ":authority": authority, ":scheme": "http" };
    for (const k in headers) {
      const v = headers[k];
      if (v !== undefined && !HOP_BY_HOP.has(k) && k.charCodeAt(0) !== 58) out[k] = v;
    }
    if (ctx.grpc) out.te = "trailers";
    let settled = false;
    const settle = (o: UpstreamOutcome) => {
      if (settled) return;
      settled = true;
      onOutcome(o);
    };
    let session;
    try {
      session = cluster.poolsFor(host).session(host.address, host.port);
    } catch (err) {
      queueMicrotask(() => settle({ kind: "failure", reason: "connect-failure", message: (err as Error).message }));
      return { attempt: { host, abort: () => {} }, sink: discardSink() as unknown as ClientHttp2Stream };
    }
    const stream = session.request(out, { endStream: false });
    let tryTimer: NodeJS.Timeout | undefined;
    if (perTryMs > 0) tryTimer = setTimeout(() => { settle({ kind: "failure", reason: "timeout", message: "per-try timeout" }); stream.close(); }, perTryMs);
    let trailers: Record<string, string> | undefined;
    stream.on("trailers", (t: H2Headers) => (trailers = t as Record<string, string>));
    stream.on("response", (h: H2Headers) => {
      if (tryTimer) clearTimeout(tryTimer);
      const status = Number(h[":status"] ?? 502);
      const clean: Record<string, string | string[] | undefined> = {};
      for (const k in h) if (k.charCodeAt(0) !== 58) clean[k] = h[k] as string | string[];
      const grpcStatus = h["grpc-status"];
      settle({ kind: "response", status, headers: clean, body: stream, trailers: () => trailers, grpcStatus: typeof grpcStatus === "string" ? grpcStatus : undefined });
    });
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (tryTimer) clearTimeout(tryTimer);
      // A failed session cancels its streams; the cause says whether the connection ever came up.
      const code = (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.code;
      const connect = code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || isHandshakeFailure(err.cause ?? err);
      if (connect) this.stats.inc(`cluster.${cluster.name}.upstream_cx_connect_fail`);
      settle({ kind: "failure", reason: connect ? "connect-failure" : "reset", message: code ?? err.message });
    });
    stream.on("close", () => {
      if (tryTimer) clearTimeout(tryTimer);
      settle({ kind: "failure", reason: "reset", message: `stream closed with code ${stream.rstCode}` });
    });
    return { attempt: { host, abort: () => stream.close() }, sink: stream };
  }

  private respond(ctx: StreamContext, outcome: Extract<UpstreamOutcome, { kind: "response" }>, choice: { responseHeaders: { apply(h: Record<string, string | string[] | undefined>): void } }, cluster: UpstreamCluster, sentAt: number, done: () => void): void {
    ctx.responded = true;
    ctx.idleTimer?.refresh();
    const status = outcome.status;
    const rs = cluster.rqStats;
    this.stats.inc(rs.byClass[Math.floor(status / 100)] ?? `cluster.${cluster.name}.upstream_rq_${Math.floor(status / 100)}xx`);
    this.stats.inc(rs.total);
    const headers: Record<string, string | string[] | undefined> = {};
    for (const k in outcome.headers) if (!HOP_BY_HOP.has(k)) headers[k] = outcome.headers[k];
    headers["x-envoy-upstream-service-time"] = String(Date.now() - sentAt);
    ctx.route!.responseHeaders.apply(headers);
    choice.responseHeaders.apply(headers);
    // The status first: filters judge the response by it (a compressor skips 204 and 304).
    ctx.responseCode = status;
    ctx.onResponseHeaders?.(headers);
    const res = ctx.res as Http1Response;
    for (const k in headers) {
      const v = headers[k];
      if (v !== undefined) res.setHeader(k, v);
    }
    res.statusCode = status;
    // Headers go out with the first body chunk, or with the end of a body-less response in the same frame, which
    // keeps gRPC's trailers-only responses intact.
    const body = bodyThrough(outcome.body, ctx.responseTransforms);
    body.on("data", (chunk: Buffer) => {
      ctx.bytesSent += chunk.length;
      ctx.idleTimer?.refresh();
      if (!res.write(chunk)) {
        body.pause();
        res.once("drain", () => body.resume());
      }
    });
    body.on("end", () => {
      const t = outcome.trailers();
      if (t && Object.keys(t).length) res.addTrailers(t);
      res.end();
      done();
    });
    body.on("error", () => {
      ctx.flags.push("UPE");
      res.destroy();
      done();
    });
  }
}

/** Envoy's shadow authority: "-shadow" appended to the host, before any port. */
function shadowOf(authority: string): string {
  const colon = authority.lastIndexOf(":");
  return colon > 0 && !authority.endsWith("]") ? `${authority.slice(0, colon)}-shadow${authority.slice(colon)}` : `${authority}-shadow`;
}

/**
 * The upstream body through the filters' transforms (decompression, compression), with backpressure carried back
 * to the upstream; an error anywhere along the way surfaces on the last stream, where the response sees it.
 */
function bodyThrough(body: ResponseBody, transforms: Transform[] | undefined): ResponseBody {
  if (!transforms?.length) return body;
  const [first] = transforms;
  for (let i = 1; i < transforms.length; i++) {
    const from = transforms[i - 1];
    from.on("error", (err) => transforms[i].destroy(err));
    from.pipe(transforms[i]);
  }
  body.on("data", (chunk: Buffer) => {
    if (!first.write(chunk)) {
      body.pause();
      first.once("drain", () => body.resume());
    }
  });
  body.on("end", () => first.end());
  body.on("error", () => first.destroy(new Error("upstream body failed")));
  return transforms[transforms.length - 1] as unknown as ResponseBody;
}
