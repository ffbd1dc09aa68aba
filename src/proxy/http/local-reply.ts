// Responses the proxy makes itself (no route, overflow, timeout, fault abort...), in gRPC form for gRPC requests.
import type { StreamContext } from "./stream-context.js";

/** HTTP status -> gRPC status, as Envoy maps local replies for gRPC clients. */
export function grpcStatusFor(http: number): number {
  switch (http) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: return 14;
    case 502: return 14;
    case 503: return 14;
    case 504: return 14;
    default: return 2;
  }
}

export function localReply(ctx: StreamContext, status: number, body: string, flag?: string, extraHeaders: Record<string, string> = {}, grpcStatus?: number): void {
  if (flag) ctx.flags.push(flag);
  if (ctx.responded || ctx.res.headersSent) {
    ctx.res.destroy?.();
    return;
  }
  ctx.responded = true;
  const res = ctx.res;
  if (ctx.grpc) {
    // gRPC clients read trailers-only responses: HTTP 200 with grpc-status in the headers.
    ctx.responseCode = 200;
    // Headers and end of stream in one frame: a trailers-only response, which is how gRPC carries an early error.
    const headers: Record<string, string> = { "content-type": "application/grpc", "grpc-status": String(grpcStatus ?? grpcStatusFor(status)), "grpc-message": encodeURIComponent(body), ...extraHeaders };
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.statusCode = 200;
    res.end();
    return;
  }
  // local_reply_config may change the status, body, content type and headers (gRPC replies stay as gRPC has them).
  const reply = ctx.rewriteLocalReply ? ctx.rewriteLocalReply(ctx, { status, body, contentType: "text/plain", headers: extraHeaders }) : { status, body, contentType: "text/plain", headers: extraHeaders };
  ctx.responseCode = reply.status;
  const payload = Buffer.from(reply.body);
  ctx.bytesSent += payload.length;
  res.writeHead(reply.status, { "content-type": reply.contentType, "content-length": payload.length, ...reply.headers });
  res.end(payload);
}
