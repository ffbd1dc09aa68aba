// What one upstream attempt ends in (a response, or a failure with its reason) and the shapes the router's layers
// pass between them: the response body, the request body's sink, the attempt in flight.
import type { Endpoint } from "../../upstream/endpoint.js";
import type { UpstreamCluster } from "../../upstream/cluster.js";
import type { Stats } from "../../stats/stats.js";
import type { StreamContext } from "../stream-context.js";

export type HeaderMap = Record<string, string | string[] | undefined>;

/** An upstream response body, from an HTTP/1.1 exchange or an HTTP/2 stream. */
export interface ResponseBody {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "error", listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

export type FailureReason = "connect-failure" | "reset" | "timeout";

export type UpstreamOutcome =
  | { kind: "response"; status: number; headers: HeaderMap; body: ResponseBody; trailers: () => Record<string, string> | undefined; grpcStatus?: string }
  | { kind: "failure"; reason: FailureReason; message: string };

export type ResponseOutcome = Extract<UpstreamOutcome, { kind: "response" }>;

/** Where the router writes a request body: an upstream exchange or stream. */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: "drain", listener: () => void): unknown;
}

/** An attempt in flight: its host, and how to give it up. */
export interface Attempt {
  host: Endpoint;
  sink: BodySink;
  abort(): void;
}

/** Headers that describe one hop and must not be forwarded (RFC 9110 7.6.1, plus HTTP/2's upgrade header). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host", "http2-settings"]);

/** Lets an unread response body drain, so its connection can be reused (a retried or late response). */
export function discardBody(outcome: UpstreamOutcome): void {
  if (outcome.kind === "response") (outcome.body as { resume?: () => void }).resume?.();
}

export interface AttemptRequest {
  cluster: UpstreamCluster;
  host: Endpoint;
  ctx: StreamContext;
  path: string;
  authority: string;
  headers: HeaderMap;
  /** The per-try timeout, 0 for none. */
  perTryMs: number;
  stats: Stats;
}
