// One HTTP/2 upstream attempt: a stream on the host's pooled session, pseudo-headers first, hop-by-hop fields
// dropped, te: trailers for gRPC; a session that cannot be had, or fails to connect, is a connect failure.
import type { IncomingHttpHeaders as H2Headers } from "node:http2";
import { Writable } from "node:stream";
import { isHandshakeFailure } from "../../upstream/connection-pools.js";
import { type Attempt, type AttemptRequest, type HeaderMap, HOP_BY_HOP, type UpstreamOutcome } from "./upstream-outcome.js";

/** Where a request body goes when no upstream stream could even be opened (the failure is reported apart). */
function discardSink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** The request's HTTP/2 header block: pseudo-headers, then the forwarded fields. */
export function h2RequestHeaders(method: string, path: string, authority: string, headers: HeaderMap, grpc: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ":method": method, ":path": path, ":authority": authority, ":scheme": "http" };
  for (const k in headers) {
    const v = headers[k];
    if (v !== undefined && !HOP_BY_HOP.has(k) && k.charCodeAt(0) !== 58) out[k] = v;
  }
  if (grpc) out.te = "trailers";
  return out;
}

/** A stream error as an outcome: whether the connection ever came up decides connect failure or reset. */
function failureOf(err: NodeJS.ErrnoException): { connect: boolean; message: string } {
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.code;
  const connect = code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || isHandshakeFailure(err.cause ?? err);
  return { connect, message: code ?? err.message };
}

export function sendH2(r: AttemptRequest, onOutcome: (o: UpstreamOutcome) => void): Attempt {
  const { cluster, host, ctx } = r;
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const settle = (o: UpstreamOutcome) => {
    if (settled) return;
    settled = true;
    if (timer) clearTimeout(timer);
    onOutcome(o);
  };
  let session;
  try {
    session = cluster.poolsFor(host).session(host.address, host.port);
  } catch (err) {
    queueMicrotask(() => settle({ kind: "failure", reason: "connect-failure", message: (err as Error).message }));
    return { host, sink: discardSink(), abort: () => {} };
  }
  const stream = session.request(h2RequestHeaders(ctx.view.method, r.path, r.authority, r.headers, ctx.grpc), { endStream: false });
  if (r.perTryMs > 0) timer = setTimeout(() => {
    settle({ kind: "failure", reason: "timeout", message: "per-try timeout" });
    stream.close();
   }, r.perTryMs);
  let trailers: Record<string, string> | undefined;
  stream.on("trailers", (t: H2Headers) => (trailers = t as Record<string, string>));
  stream.on("response", (h: H2Headers) => {
    if (timer) clearTimeout(timer);
    const clean: HeaderMap = {};
    for (const k in h) if (k.charCodeAt(0) !== 58) clean[k] = h[k];
    const grpcStatus = h["grpc-status"];
    settle({ kind: "response", status: Number(h[":status"] ?? 502), headers: clean, body: stream, trailers: () => trailers, grpcStatus: typeof grpcStatus === "string" ? grpcStatus : undefined });
  });
  stream.on("error", (err: NodeJS.ErrnoException) => {
    // A failed session cancels its streams; the cause says whether the connection ever came up.
    const f = failureOf(err);
    if (f.connect) r.stats.inc(`cluster.${cluster.name}.upstream_cx_connect_fail`);
    settle({ kind: "failure", reason: f.connect ? "connect-failure" : "reset", message: f.message });
  });
  stream.on("close", () => settle({ kind: "failure", reason: "reset", message: `stream closed with code ${stream.rstCode}` }));
  return { host, sink: stream, abort: () => stream.close() };
}
