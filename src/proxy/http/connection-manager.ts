// envoy.filters.network.http_connection_manager: speaks HTTP/1.1 and HTTP/2 to downstream connections, finds the
// route, runs the HTTP filters in order, then hands the request to the router. Compiled once per config.
import { newRequestId } from "./request-id.js";
import { createServer as createH2Server, type Http2Server, type Http2Session, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from "node:http2";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { HttpConnectionManager__Output } from "../../xds/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";
import type { RouteConfiguration__Output } from "../../xds/generated/envoy/config/route/v3/RouteConfiguration.js";
import type { Stats } from "../stats/stats.js";
import { durationMs, wrapped } from "../util/duration.js";
import { compileAccessLogs, type AccessLogger } from "./access-log.js";
import { filterFactory, type HttpFilter } from "./filter.js";
import { localReply } from "./local-reply.js";
import { refuseFileSource } from "../config/config-source.js";
import { Runtime } from "../runtime/runtime.js";
import { compileLocalReplyConfig, type LocalReplyRewriter } from "./local-reply-config.js";
import { requestView } from "./request-view.js";
import { compileRouteTable, type RouteTable } from "./route-table.js";
import type { Router } from "./router.js";
import type { ConnectionInfo, StreamContext } from "./stream-context.js";
import { upgradeConnection } from "./upgrade.js";
import { replaySocket } from "./replay-socket.js";
import { normalizePath, type PathNormalization } from "./path-normalization.js";
import { goawayErrorWatch } from "./h2-goaway.js";
import "./filters/index.js";
import { decodePeer, encodePeer, PEER_HEADER } from "../stats/istio-metrics.js";
import { type IstioReporting, recordIstioMetrics } from "../stats/record-istio-metrics.js";
import { attributeRoute } from "../stats/route-attribution.js";
import { Tracer, type TracerDeps } from "../tracing/tracer.js";
import { Http1ServerConnection, type Http1Handler, type Http1ServerOptions } from "../http1/server-connection.js";
import { Http1Response, type Http1Request } from "../http1/server-messages.js";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface HcmDeps {
  router: Router;
  stats: Stats;
  /** Istio's standard metrics, and who this proxy is (from its node metadata); undefined = not recorded. */
  istio?: IstioReporting;
  /** RDS: the current route table by name (undefined until it arrives). */
  routes(name: string): RouteTable | undefined;
  clusterExists(name: string): boolean;
  cluster?(name: string): import("../upstream/cluster.js").UpstreamCluster | undefined;
  tracing: TracerDeps;
  /** The proxy's runtime (layered_runtime); absent, every runtime key is at its default. */
  runtime?: Runtime;
}

type Req = Http1Request | Http2ServerRequest;
type Res = Http1Response | Http2ServerResponse;

export class HttpConnectionManager {
  readonly statPrefix: string;
  readonly rdsName?: string;
  private readonly inlineRoutes?: RouteTable;
  private readonly filters: HttpFilter[];
  private readonly accessLogs: AccessLogger[];
  private readonly localReplyConfig?: LocalReplyRewriter;
  private readonly tracer?: Tracer;
  private readonly h1: Http1Handler;
  private readonly h1Options: Http1ServerOptions;
  private readonly h1Conns = new Set<Http1ServerConnection>();
  private readonly h2: Http2Server;
  private readonly codec: string;
  private readonly serverName: string;
  private readonly generateRequestId: boolean;
  private readonly useRemoteAddress: boolean;
  private readonly upgrades: Set<string>;
  /** normalize_path, merge_slashes, path_with_escaped_slashes_action; undefined = the path as received. */
  private readonly pathNormalization?: PathNormalization;
  /** Whether any filter changes response headers (known per config, not per request). */
  private readonly hasResponseHeaderFilters: boolean;
  /** stream_idle_timeout (Envoy's default: 5 minutes); 0 = none. */
  private readonly streamIdleMs: number;
  /** By HTTP/1 socket, or by HTTP/2 session (an HTTP/2 request's socket is a proxy object, never the socket itself). */
  private readonly conns = new WeakMap<object, ConnectionInfo>();
  /** request_timeout: the whole request must have arrived by then unless a response started; 0 (the default) = none. */
  private readonly requestTimeoutMs: number;
  private readonly openSockets = new Set<Socket>();
  /** Upgrade requests on their way through the filters: where the router would forward, they become tunnels. */
  private readonly tunnels = new WeakMap<StreamContext, { socket: Socket; head: Buffer }>();
  /** The router's cluster lookup, made once rather than as a closure per request. */
  private readonly clusterOf = (name: string) => this.deps.router.cluster(name);
  private draining = false;
  /** Stat names bumped per request, built once. */
  private readonly rqStats: { total: string; active: string; byClass: string[] };

  constructor(config: HttpConnectionManager__Output, private readonly deps: HcmDeps, where: string, private readonly direction: "INBOUND" | "OUTBOUND" | "UNSPECIFIED" = "UNSPECIFIED") {
    this.statPrefix = config.stat_prefix;
    const sp = `http.${config.stat_prefix}`;
    this.rqStats = { total: `${sp}.downstream_rq_total`, active: `${sp}.downstream_rq_active`, byClass: [0, 1, 2, 3, 4, 5].map((c) => `${sp}.downstream_rq_${c}xx`) };
    if (config.route_specifier === "rds") {
      refuseFileSource(config.rds!.config_source, `${where}.rds.config_source`, "RDS");
      this.rdsName = config.rds!.route_config_name;
    }
    else if (config.route_specifier === "route_config") this.inlineRoutes = compileRouteTable(config.route_config as RouteConfiguration__Output, deps.runtime);
    else throw new Error(`${where}: route_config or rds is required`);
    this.filters = config.http_filters.map((f, i) => {
      const factory = filterFactory(f.name, f.typed_config?.type_url);
      if (!factory) throw new Error(`${where}.http_filters[${i}]: filter ${f.name} (${f.typed_config?.type_url ?? "no typed_config"}) is not supported`);
      return factory(f.typed_config ?? null, { statPrefix: this.statPrefix, stats: deps.stats, cluster: deps.cluster, runtime: deps.runtime });
    });
    const last = config.http_filters[config.http_filters.length - 1];
    if (!last || (last.name !== "envoy.filters.http.router" && !last.typed_config?.type_url.endsWith("router.v3.Router"))) {
      throw new Error(`${where}.http_filters: the last filter must be envoy.filters.http.router`);
    }
    this.filters.pop();
    this.hasResponseHeaderFilters = this.filters.some((f) => f.onResponseHeaders);
    this.accessLogs = compileAccessLogs(config.access_log, where);
    this.localReplyConfig = compileLocalReplyConfig(config.local_reply_config, `${where}.local_reply_config`, deps.runtime ?? Runtime.fromBootstrap(null, "", ""));
    if (config.tracing) this.tracer = new Tracer(config.tracing, deps.tracing, direction, `${where}.tracing`);
    this.codec = config.codec_type;
    this.serverName = config.server_name || "envoy";
    this.generateRequestId = wrapped(config.generate_request_id, true);
    this.useRemoteAddress = wrapped(config.use_remote_address, false);
    const norm = { normalize: wrapped(config.normalize_path, false), mergeSlashes: config.merge_slashes, unescapeSlashes: config.path_with_escaped_slashes_action === "UNESCAPE_AND_FORWARD" };
    if (norm.normalize || norm.mergeSlashes || norm.unescapeSlashes) this.pathNormalization = norm;
    this.upgrades = new Set(config.upgrade_configs.filter((u) => wrapped(u.enabled, true)).map((u) => u.upgrade_type.toLowerCase()));
    const idleMs = durationMs(config.common_http_protocol_options?.idle_timeout, 3_600_000);
    this.streamIdleMs = durationMs(config.stream_idle_timeout, 300_000);
    this.requestTimeoutMs = durationMs(config.request_timeout, 0);
    const handler = (req: Req, res: Res) => this.handle(req, res);
    this.h1Options = {
      idleTimeoutMs: idleMs, headersTimeoutMs: durationMs(config.request_headers_timeout, 60_000),
      maxHeaderBytes: wrapped(config.max_request_headers_kb, 60) * 1024, maxHeaders: wrapped(config.common_http_protocol_options?.max_headers_count, 100),
    };
    this.h1 = {
      request: handler,
      upgrade: (req, socket, head) => this.upgrade(req, socket, head),
      refused: () => deps.stats.inc(`http.${this.statPrefix}.downstream_rq_rx_reset`),
    };
    this.h2 = createH2Server({ maxHeaderListPairs: 1000 }, handler);
    this.h2.on("sessionError", () => deps.stats.inc(`http.${this.statPrefix}.downstream_cx_protocol_error`));
    if (idleMs > 0) this.h2.on("session", (session: ServerHttp2Session) => this.closeWhenIdle(session, idleMs));
  }

  /** How long a new connection may stay silent: its first request's head is due within request_headers_timeout. */
  get firstBytesTimeoutMs(): number {
    return this.h1Options.headersTimeoutMs;
  }

  /** Takes a downstream connection: HTTP/2 when the codec says so or the client opens with the HTTP/2 preface. */
  handleConnection(socket: Socket, conn: ConnectionInfo, firstBytes?: Buffer, alpn?: string): void {
    this.conns.set(socket, conn);
    this.openSockets.add(socket);
    socket.once("close", () => this.openSockets.delete(socket));
    const stats = this.deps.stats;
    stats.inc(`http.${this.statPrefix}.downstream_cx_total`);
    stats.gauge(`http.${this.statPrefix}.downstream_cx_active`, 1);
    socket.once("close", () => stats.gauge(`http.${this.statPrefix}.downstream_cx_active`, -1));
    const dispatch = (bytes: Buffer | undefined) => {
      const h2 = this.codec === "HTTP2" || (this.codec !== "HTTP1" && bytes !== undefined && bytes.length >= 3 && bytes.subarray(0, Math.min(bytes.length, H2_PREFACE.length)).equals(H2_PREFACE.subarray(0, Math.min(bytes.length, H2_PREFACE.length))));
      if (h2) {
        stats.inc(`http.${this.statPrefix}.downstream_cx_http2_total`);
        // Through a replay stream: it gives the session the sniffed bytes, and sees the GOAWAY Node sends on a
        // protocol error (after which the connection must close, and Node leaves it open).
        const stream = bytes ? replaySocket(socket, bytes, goawayErrorWatch()) : socket;
        this.serveH2(stream, conn);
      } else {
        stats.inc(`http.${this.statPrefix}.downstream_cx_http1_total`);
        this.serveH1(socket, bytes);
      }
      socket.resume();
    };
    if (alpn !== undefined) {
      // TLS told us the protocol: no need to peek.
      if (alpn === "h2") this.serveH2(this.h2Stream(socket), conn);
      else this.serveH1(socket, undefined);
      stats.inc(`http.${this.statPrefix}.downstream_cx_${alpn === "h2" ? "http2" : "http1"}_total`);
      return;
    }
    if (firstBytes || this.codec !== "AUTO") return dispatch(firstBytes);
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      dispatch(chunk);
    });
  }

  /**
   * HTTP/2 over TLS goes through a replay stream too. Node's HTTP/2 session, given a server TLSSocket made by hand,
   * waits for a "secureConnect" that never comes and then throws on the bytes already received (taking the process
   * down); on a plain stream it starts at once, takes what was buffered in one piece, and the connection closes after
   * an error GOAWAY as in cleartext.
   */
  private h2Stream(socket: Socket): Duplex {
    const parts: Buffer[] = [];
    for (let b: Buffer | null; (b = socket.read() as Buffer | null) !== null;) parts.push(b);
    return replaySocket(socket, Buffer.concat(parts), goawayErrorWatch());
  }

  /** Hands a connection to the HTTP/2 server; its session (made synchronously) is what requests find their connection by. */
  private serveH2(stream: Duplex, conn: ConnectionInfo): void {
    const onSession = (session: Http2Session) => this.conns.set(session, conn);
    this.h2.once("session", onSession);
    this.h2.emit("connection", stream);
    this.h2.off("session", onSession);
  }

  /**
   * common_http_protocol_options.idle_timeout on HTTP/2 (HTTP/1 has it in its codec): a connection with no stream
   * open for that long is closed with a GOAWAY. One timer per connection, re-armed when its last stream closes.
   */
  private closeWhenIdle(session: ServerHttp2Session, idleMs: number): void {
    let open = 0;
    const timer = setTimeout(() => {
      if (open > 0 || session.closed || session.destroyed) return;
      this.deps.stats.inc(`http.${this.statPrefix}.downstream_cx_idle_timeout`);
      session.close();
    }, idleMs);
    session.on("stream", (stream) => {
      open++;
      stream.once("close", () => {
        if (--open === 0) timer.refresh();
      });
    });
    session.once("close", () => clearTimeout(timer));
  }

  private serveH1(socket: Socket, firstBytes: Buffer | undefined): void {
    const conn = new Http1ServerConnection(socket, this.h1, this.h1Options, firstBytes);
    this.h1Conns.add(conn);
    socket.once("close", () => this.h1Conns.delete(conn));
  }

  private connInfo(req: Req): ConnectionInfo {
    const socket = req.socket as Socket;
    const info = this.conns.get(req.httpVersionMajor === 2 ? (req as Http2ServerRequest).stream.session ?? socket : socket);
    return info ?? { remoteAddress: socket?.remoteAddress ?? "", remotePort: socket?.remotePort ?? 0, localAddress: socket?.localAddress ?? "", localPort: socket?.localPort ?? 0, tls: false };
  }

  /** The path filters, routing and the upstream see: normalized when the config asks (before RBAC and routes). */
  private path(url: string | undefined): string {
    const raw = url ?? "/";
    return this.pathNormalization ? normalizePath(raw, this.pathNormalization) ?? raw : raw;
  }

  private routeTable(): RouteTable | undefined {
    return this.inlineRoutes ?? this.deps.routes(this.rdsName!);
  }

  /** `tunnel`: an HTTP/1.1 Upgrade, which goes through the same filters and becomes a tunnel where the router would forward. */
  private handle(req: Req, res: Res, tunnel?: { socket: Socket; head: Buffer }): void {
    // Draining: this answer is the connection's last (HTTP/1 Connection: close; HTTP/2 GOAWAY after its streams).
    if (this.draining) {
      if (req.httpVersionMajor === 1) (res as Http1Response).shouldKeepAlive = false;
      else (req as Http2ServerRequest).stream?.session?.close();
    }
    const stats = this.deps.stats;
    const rs = this.rqStats;
    stats.inc(rs.total);
    stats.gauge(rs.active, 1);
    const authority = (req.headers[":authority"] as string | undefined) ?? req.headers.host ?? "";
    const scheme = (req.headers[":scheme"] as string | undefined) === "https" ? "https" : "http";
    const view = requestView(req.method ?? "GET", this.path(req.url), authority, scheme, req.headers);
    const conn = this.connInfo(req);
    const upstreamHeaders: Record<string, string | string[] | undefined> = {};
    for (const k in req.headers) if (k.charCodeAt(0) !== 58) upstreamHeaders[k] = req.headers[k];
    let requestId = view.header("x-request-id");
    if (!requestId && this.generateRequestId) {
      requestId = newRequestId();
      upstreamHeaders["x-request-id"] = requestId;
    }
    upstreamHeaders["x-forwarded-proto"] ??= conn.tls ? "https" : scheme;
    if (this.useRemoteAddress) {
      const xff = view.header("x-forwarded-for");
      upstreamHeaders["x-forwarded-for"] = xff ? `${xff},${conn.remoteAddress}` : conn.remoteAddress;
    }
    const ctx: StreamContext = {
      req, res, view, conn, route: undefined, upstreamHeaders, startTime: Date.now(), startHr: process.hrtime.bigint(), flags: [], metadata: {},
      bytesReceived: 0, bytesSent: 0, responseCode: 0, requestId: requestId ?? "", grpc: (view.header("content-type") ?? "").startsWith("application/grpc"), responded: false, faultDelayMs: 0, rewriteLocalReply: this.localReplyConfig,
    };
    res.setHeader("server", this.serverName);
    const istio = this.deps.istio;
    if (istio && this.direction === "OUTBOUND") upstreamHeaders[PEER_HEADER] = encodePeer(istio.self);
    else if (istio && this.direction === "INBOUND") {
      ctx.sourcePeer = decodePeer(view.header(PEER_HEADER));
      delete upstreamHeaders[PEER_HEADER];
    }
    const span = this.tracer?.start(ctx);
    let requestTimer: NodeJS.Timeout | undefined;
    res.once("close", () => {
      if (ctx.idleTimer) clearTimeout(ctx.idleTimer);
      if (requestTimer) clearTimeout(requestTimer);
      if (span) this.tracer!.finish(ctx, span);
      stats.gauge(rs.active, -1);
      stats.inc(rs.byClass[Math.floor(ctx.responseCode / 100)] ?? rs.byClass[0]);
      for (const log of this.accessLogs) log(ctx);
      if (istio && this.direction !== "UNSPECIFIED") recordIstioMetrics(istio, this.direction, ctx);
    });
    const table = this.routeTable();
    const vh = table?.virtualHost(view.authority);
    const route = vh?.routes.find((r) => r.matches(view));
    if (!route) {
      stats.inc(`http.${this.statPrefix}.no_route`);
      localReply(ctx, 404, "", "NR");
      return;
    }
    ctx.route = route;
    attributeRoute(ctx, this.clusterOf);
    if (tunnel) this.tunnels.set(ctx, tunnel);
    const idle = route.action.kind === "forward" && route.action.idleTimeoutMs >= 0 ? route.action.idleTimeoutMs : this.streamIdleMs;
    if (idle > 0 && route.action.kind === "forward") ctx.idleTimer = setTimeout(() => this.streamIdle(ctx), idle);
    if (this.requestTimeoutMs > 0) requestTimer = setTimeout(() => this.requestTimeout(ctx), this.requestTimeoutMs);
    if (this.hasResponseHeaderFilters) {
      ctx.onResponseHeaders = (h) => { for (const f of this.filters) f.onResponseHeaders?.(ctx, h); };
    }
    this.runFilters(ctx, 0);
  }

  /**
   * No bytes either way for the stream idle timeout (Envoy's SI): a 408 when no response has started, a reset of the
   * stream otherwise; the upstream attempt is given up either way.
   */
  private streamIdle(ctx: StreamContext): void {
    this.deps.stats.inc(`http.${this.statPrefix}.downstream_rq_idle_timeout`);
    ctx.cancelUpstream?.();
    if (!ctx.responded && !ctx.res.headersSent) localReply(ctx, 408, "stream timeout", "SI");
    else {
      ctx.flags.push("SI");
      ctx.res.destroy();
    }
  }

  /**
   * request_timeout, as Envoy: a 408 unless the whole request went upstream (read to its end: the router forwards as
   * it reads) or a response started; no response flag.
   */
  private requestTimeout(ctx: StreamContext): void {
    if (ctx.req.readableEnded || ctx.responded || ctx.res.headersSent) return;
    this.deps.stats.inc(`http.${this.statPrefix}.downstream_rq_timeout`);
    ctx.cancelUpstream?.();
    localReply(ctx, 408, "request timeout");
  }

  private runFilters(ctx: StreamContext, from: number): void {
    for (let i = from; i < this.filters.length; i++) {
      let status;
      try {
        status = this.filters[i].onRequest(ctx);
      } catch (err) {
        // A filter bug must not take the proxy down: answer this request and log why.
        console.error(`trellis proxy: filter ${this.filters[i].name} failed: ${(err as Error).message}`);
        localReply(ctx, 500, "filter error", "DPE");
        return;
      }
      if (status === "stop") return;
      if (status !== "continue") {
        status.then((s) => { if (s === "continue" && !ctx.responded) this.runFilters(ctx, i + 1); }, () => localReply(ctx, 500, "filter error", "DPE"));
        return;
      }
    }
    this.dispatch(ctx);
  }

  private dispatch(ctx: StreamContext): void {
    const action = ctx.route!.action;
    switch (action.kind) {
      case "direct": {
        const headers: Record<string, string | string[] | undefined> = {};
        ctx.route!.responseHeaders.apply(headers);
        for (const [k, v] of Object.entries(headers)) if (v !== undefined) ctx.res.setHeader(k, v);
        ctx.responded = true;
        ctx.responseCode = action.status;
        ctx.bytesSent = action.body?.length ?? 0;
        ctx.res.writeHead(action.status, action.body ? { "content-length": action.body.length, "content-type": "text/plain" } : { "content-length": 0 });
        if (action.body) ctx.res.end(action.body);
        else ctx.res.end();
        return;
      }
      case "redirect": {
        const v = ctx.view;
        const host = action.host ?? v.authority.replace(/:\d+$/, "");
        const port = action.port ? `:${action.port}` : action.host ? "" : /:\d+$/.exec(v.authority)?.[0] ?? "";
        const scheme = action.httpsRedirect ? "https" : action.scheme ?? v.scheme;
        let path = action.path ?? (action.prefixRewrite && v.path.startsWith(action.prefixRewrite.prefix) ? action.prefixRewrite.replacement + v.path.slice(action.prefixRewrite.prefix.length) : v.path);
        if (action.stripQuery) path = path.split("?")[0];
        const location = `${scheme}://${host}${action.httpsRedirect && port === ":80" ? "" : port}${path}`;
        ctx.responded = true;
        ctx.responseCode = action.status;
        ctx.res.writeHead(action.status, { location, "content-length": 0 });
        ctx.res.end();
        return;
      }
      case "forward": {
        const tunnel = this.tunnels.get(ctx);
        if (!tunnel) return this.deps.router.route(ctx, action);
        // Allowed by every filter: now the connection becomes a tunnel to the upstream.
        if (ctx.idleTimer) clearTimeout(ctx.idleTimer);
        upgradeConnection(ctx, tunnel.socket, tunnel.head, this.deps, () => (ctx.res as Http1Response).emit("close"));
      }
    }
  }

  /**
   * An HTTP/1.1 Upgrade is a request like any other (filters, access log, metrics, breakers through the router's
   * cluster), answered by a local reply or, once every filter let it through, turned into a tunnel. Only upgrade
   * types the connection manager or the route enables are taken; others are refused as Envoy does (403).
   */
  private upgrade(req: Http1Request, socket: Socket, head: Buffer): void {
    const type = (req.headers.upgrade ?? "").toLowerCase();
    const view = requestView(req.method ?? "GET", this.path(req.url), req.headers.host ?? "", "http", req.headers);
    const route = this.routeTable()?.virtualHost(view.authority)?.routes.find((r) => r.matches(view));
    if (route && route.action.kind === "forward" && !(this.upgrades.has(type) || route.action.upgrades.has(type))) {
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    const res = new Http1Response(socket, { responseDone: () => socket.end() }, req.httpVersionMinor ?? 1, false, false);
    this.handle(req, res, { socket, head });
  }

  /**
   * Stops taking new requests on open connections (Connection: close / GOAWAY) and resolves when they are gone.
   * Shutting down closes idle connections at once. Replaced by new config (`gentle`), idle keep-alive connections
   * are left to carry one more request, answered with Connection: close, as Envoy drains a listener: closing them
   * at once races a client that is just reusing one (it sees a reset); what remains closes at the deadline.
   */
  async drain(timeoutMs: number, gentle = false): Promise<void> {
    this.draining = true;
    if (!gentle) {
      for (const c of this.h1Conns) c.closeWhenIdle();
      for (const s of this.openSockets) if (!this.isH1(s)) s.end();
    }
    const deadline = Date.now() + timeoutMs;
    while (this.openSockets.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of this.openSockets) s.destroy();
  }

  private isH1(socket: Socket): boolean {
    for (const c of this.h1Conns) if (c.socket === socket) return true;
    return false;
  }

  isDraining(): boolean {
    return this.draining;
  }
}
