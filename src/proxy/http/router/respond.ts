// The upstream response on its way downstream: per-cluster response stats, hop-by-hop fields dropped, the route's
// and the weighted cluster's response headers, the filters' say (onResponseHeaders, body transforms), then the body
// streamed with backpressure and the trailers passed on.
import type { Transform } from "node:stream";
import type { UpstreamCluster } from "../../upstream/cluster.js";
import type { Http1Response } from "../../http1/server-messages.js";
import type { Stats } from "../../stats/stats.js";
import type { StreamContext } from "../stream-context.js";
import { type HeaderMap, HOP_BY_HOP, type ResponseBody, type ResponseOutcome } from "./upstream-outcome.js";

export interface ResponseHeaderChanges {
  apply(h: HeaderMap): void;
}

/** The response headers as they go downstream (before the filters' own changes). */
export function downstreamHeaders(outcome: ResponseOutcome, upstreamMs: number): HeaderMap {
  const headers: HeaderMap = {};
  for (const k in outcome.headers) if (!HOP_BY_HOP.has(k)) headers[k] = outcome.headers[k];
  headers["x-envoy-upstream-service-time"] = String(upstreamMs);
  return headers;
}

export function respond(ctx: StreamContext, outcome: ResponseOutcome, choice: { responseHeaders: ResponseHeaderChanges }, cluster: UpstreamCluster, stats: Stats, sentAt: number, done: () => void): void {
  ctx.responded = true;
  ctx.idleTimer?.refresh();
  const status = outcome.status;
  const rs = cluster.rqStats;
  stats.inc(rs.byClass[Math.floor(status / 100)] ?? `cluster.${cluster.name}.upstream_rq_${Math.floor(status / 100)}xx`);
  stats.inc(rs.total);
  const headers = downstreamHeaders(outcome, Date.now() - sentAt);
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
  streamBody(ctx, res, bodyThrough(outcome.body, ctx.responseTransforms), outcome.trailers, done);
}

function streamBody(ctx: StreamContext, res: Http1Response, body: ResponseBody, trailers: () => Record<string, string> | undefined, done: () => void): void {
  const resume = () => body.resume();
  body.on("data", (chunk: Buffer) => {
    ctx.bytesSent += chunk.length;
    ctx.idleTimer?.refresh();
    if (!res.write(chunk)) {
      body.pause();
      res.once("drain", resume);
    }
  });
  body.on("end", () => {
    const t = trailers();
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
