// HTTP/1.1 Upgrade (WebSocket and others the route allows), the last step of the connection manager's one request
// path: after every HTTP filter let the request through, it passes the cluster's circuit breakers as the router's
// requests do, forwards the handshake, then splices the two sockets. The tunnel holds its breaker slots (an active
// request and a connection of the cluster) until it closes. The upstream's status and the tunnel's end are reported
// for the access log and metrics.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { HcmDeps } from "./connection-manager.js";
import type { Http1Request } from "../http1/server-messages.js";
import { pickCluster, rewritePath } from "./route-table.js";
import type { StreamContext } from "./stream-context.js";
import type { UpstreamCluster } from "../upstream/cluster.js";
import { workloadOf } from "../upstream/endpoint.js";
import { localReply } from "./local-reply.js";

/** Open tunnels per cluster: each holds an upstream connection of its own, outside the cluster's pools. */
const tunnels = new WeakMap<UpstreamCluster, number>();

/**
 * The router's breakers for a request that becomes a tunnel: max_requests and max_pending_requests as any request
 * (upstream_rq_pending_overflow), and max_connections for the connection the tunnel keeps (upstream_cx_overflow).
 * A tunnel is refused rather than queued: it may hold its connection for hours. Returns whether it was refused.
 */
function overflows(ctx: StreamContext, cluster: UpstreamCluster, deps: HcmDeps): boolean {
  const cs = `cluster.${cluster.name}`;
  let stat: string | undefined;
  if (cluster.activeRequests >= cluster.breakers.maxRequests || cluster.pending() >= cluster.breakers.maxPendingRequests) stat = `${cs}.upstream_rq_pending_overflow`;
  else if ((tunnels.get(cluster) ?? 0) >= cluster.breakers.maxConnections) stat = `${cs}.upstream_cx_overflow`;
  if (!stat) return false;
  deps.stats.inc(stat);
  localReply(ctx, 503, "upstream connect error or disconnect/reset before headers. reset reason: overflow", "UO", { "x-envoy-overloaded": "true" });
  return true;
}

/** Takes the tunnel's breaker slots; the returned function gives them back, once. */
function holdSlots(cluster: UpstreamCluster, deps: HcmDeps): () => void {
  cluster.activeRequests++;
  deps.stats.gauge(cluster.rqStats.active, 1);
  tunnels.set(cluster, (tunnels.get(cluster) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    cluster.activeRequests--;
    deps.stats.gauge(cluster.rqStats.active, -1);
    tunnels.set(cluster, (tunnels.get(cluster) ?? 1) - 1);
  };
}

export function upgradeConnection(ctx: StreamContext, downstream: Socket, head: Buffer, deps: HcmDeps, onClose: () => void = () => {}): void {
  const req = ctx.req as Http1Request;
  const action = ctx.route!.action;
  downstream.once("close", onClose);
  if (action.kind !== "forward") return void downstream.destroy();
  const choice = pickCluster(action, ctx.view);
  const cluster = choice ? deps.router.cluster(choice.name) : undefined;
  if (!cluster) return localReply(ctx, action.notFoundStatus, "no healthy upstream", "NC");
  ctx.upstreamCluster = cluster.name;
  if (overflows(ctx, cluster, deps)) return;
  const conn = ctx.conn;
  const host = cluster.type === "ORIGINAL_DST" && conn.originalDst ? cluster.originalDestinationHost(conn.originalDst.address, conn.originalDst.port) : cluster.pick(undefined);
  if (!host) return localReply(ctx, 503, "no healthy upstream", "UH");
  ctx.upstreamHost = host.key;
  ctx.upstreamWorkload = workloadOf(host);
  const headers: Record<string, string | string[] | undefined> = { ...req.headers };
  ctx.route!.requestHeaders.apply(headers);
  const path = rewritePath(action, ctx.view.path);
  // Over the cluster's TLS when it has one (mesh mTLS), as the pooled HTTP/1.1 connections are.
  let tlsOptions;
  try {
    tlsOptions = cluster.poolsFor(host).tlsOptions(["http/1.1"]);
  } catch {
    return localReply(ctx, 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", "UF");
  }
  const release = holdSlots(cluster, deps);
  const raw = connect({ host: host.address, port: host.port });
  const upstream: Socket = tlsOptions ? tlsConnect({ socket: raw, ...tlsOptions }) : raw;
  upstream.setNoDelay(true);
  downstream.setNoDelay(true);
  upstream.once(tlsOptions ? "secureConnect" : "connect", () => {
    let head1 = `${req.method} ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) head1 += `${k}: ${x}\r\n`;
    }
    upstream.write(head1 + "\r\n");
    if (head.length) upstream.write(head);
    upstream.once("data", (first: Buffer) => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(first.subarray(0, 16).toString("latin1"));
      ctx.responded = true;
      ctx.responseCode = m ? Number(m[1]) : 0;
    });
    upstream.pipe(downstream);
    downstream.pipe(upstream);
    deps.stats.inc(`cluster.${cluster.name}.upstream_cx_total`);
  });
  let replied = false;
  const close = () => {
    release();
    upstream.destroy();
    // A local reply ends the downstream connection itself, once written.
    if (!replied) downstream.destroy();
  };
  upstream.once("error", () => {
    if (!downstream.destroyed && downstream.bytesWritten === 0) {
      replied = true;
      deps.stats.inc(`cluster.${cluster.name}.upstream_cx_connect_fail`);
      localReply(ctx, 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", "UF");
    }
    close();
  });
  downstream.once("error", close);
  upstream.once("close", close);
  downstream.once("close", close);
}
