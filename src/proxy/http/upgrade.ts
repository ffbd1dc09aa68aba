// HTTP/1.1 Upgrade (WebSocket and others the route allows), the last step of the connection manager's one request
// path: after every HTTP filter let the request through, forwards the handshake, then splices the two sockets.
// The upstream's status (101, or its refusal) and the tunnel's end are reported for the access log and metrics.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { HcmDeps } from "./connection-manager.js";
import type { Http1Request } from "../http1/server-messages.js";
import type { CompiledRoute } from "./route-table.js";
import { pickCluster, rewritePath } from "./route-table.js";
import type { ConnectionInfo } from "./stream-context.js";
import { requestView } from "./request-view.js";

export function upgradeConnection(req: Http1Request, downstream: Socket, head: Buffer, route: CompiledRoute, deps: HcmDeps, conn: ConnectionInfo, onStatus: (status: number) => void = () => {}, onClose: () => void = () => {}): void {
  const action = route.action;
  downstream.once("close", onClose);
  if (action.kind !== "forward") return void downstream.destroy();
  const view = requestView(req.method ?? "GET", req.url ?? "/", req.headers.host ?? "", "http", req.headers);
  const choice = pickCluster(action, view);
  const cluster = choice ? deps.router.cluster(choice.name) : undefined;
  const host = cluster?.type === "ORIGINAL_DST" && conn.originalDst ? cluster.originalDestinationHost(conn.originalDst.address, conn.originalDst.port) : cluster?.pick(undefined);
  if (!cluster || !host) {
    onStatus(503);
    downstream.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\nconnection: close\r\n\r\nno healthy upstream");
    return;
  }
  const headers: Record<string, string | string[] | undefined> = { ...req.headers };
  route.requestHeaders.apply(headers);
  const path = rewritePath(action, view.path);
  // Over the cluster's TLS when it has one (mesh mTLS), as the pooled HTTP/1.1 connections are.
  let tlsOptions;
  try {
    tlsOptions = cluster.poolsFor(host).tlsOptions(["http/1.1"]);
  } catch {
    onStatus(503);
    downstream.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    return;
  }
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
      onStatus(m ? Number(m[1]) : 0);
    });
    upstream.pipe(downstream);
    downstream.pipe(upstream);
    deps.stats.inc(`cluster.${cluster.name}.upstream_cx_total`);
  });
  const close = () => {
    upstream.destroy();
    downstream.destroy();
  };
  upstream.once("error", () => {
    if (!downstream.destroyed && downstream.bytesWritten === 0) {
      onStatus(503);
      downstream.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    }
    close();
  });
  downstream.once("error", close);
  upstream.once("close", close);
  downstream.once("close", close);
}
