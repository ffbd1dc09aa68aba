// One HTTP/1.1 upstream attempt: the request head built once (hop-by-hop fields dropped, unsafe values refused),
// framed by length or chunked, sent as a ClientExchange over the host's pool.
import { ClientExchange, type RequestFraming } from "../../http1/client-exchange.js";
import { safeFieldValue } from "../../http1/head-parser.js";
import { isHandshakeFailure } from "../../upstream/connection-pools.js";
import type { StreamContext } from "../stream-context.js";
import { type Attempt, type AttemptRequest, type HeaderMap, HOP_BY_HOP, type UpstreamOutcome } from "./upstream-outcome.js";

/** Whether the downstream request carries a body whose length is not known up front (sent on chunked). */
function requestHasBody(ctx: StreamContext): boolean {
  const req = ctx.req as { httpVersionMajor?: number; headers: Record<string, unknown>; stream?: { endAfterHeaders?: boolean } };
  if (req.httpVersionMajor === 2) return !req.stream?.endAfterHeaders;
  return req.headers["transfer-encoding"] !== undefined;
}

/** The request head: request line, host, forwarded fields (values that could split the head are dropped), framing. */
export function requestHead(method: string, path: string, authority: string, headers: HeaderMap, framing: RequestFraming): string {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n`;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_BY_HOP.has(k) || k.charCodeAt(0) === 58 /* ':' */) continue;
    if (typeof v === "string") {
      if (safeFieldValue(v)) head += `${k}: ${v}\r\n`;
    } else for (const x of v) if (safeFieldValue(x)) head += `${k}: ${x}\r\n`;
  }
  if (framing === "chunked") head += "transfer-encoding: chunked\r\n";
  return head + "\r\n";
}

export function sendH1(r: AttemptRequest, onOutcome: (o: UpstreamOutcome) => void): Attempt {
  const { cluster, host, ctx } = r;
  const framing: RequestFraming = r.headers["content-length"] !== undefined ? "length" : requestHasBody(ctx) ? "chunked" : "none";
  const head = requestHead(ctx.view.method, r.path, r.authority, r.headers, framing);
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const settle = (o: UpstreamOutcome) => {
    if (settled) return;
    settled = true;
    if (timer) clearTimeout(timer);
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
      if (connect) r.stats.inc(`cluster.${cluster.name}.upstream_cx_connect_fail`);
      settle({ kind: "failure", reason: connect ? "connect-failure" : "reset", message: f.message });
    },
  });
  if (r.perTryMs > 0) timer = setTimeout(() => {
    settle({ kind: "failure", reason: "timeout", message: "per-try timeout" });
    exchange.abort();
   }, r.perTryMs);
  cluster.poolsFor(host).h1.request(host.address, host.port, exchange);
  return { host, sink: exchange, abort: () => exchange.abort() };
}
