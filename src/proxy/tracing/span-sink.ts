// What a tracer hands finished spans to: one sink per collector target, shared by every connection manager tracing
// there (OTLP/HTTP, Zipkin JSON v2), batching off the request path.
import type { OtlpSpan } from "../../xds/otlp-trace.js";
import type { AttributeValue } from "../../xds/otlp-trace.js";

export interface SpanSink {
  add(span: OtlpSpan): void;
  /** Sends what is queued; resolves when the last batch is answered (used on shutdown). */
  flush(): Promise<void>;
  close(): void;
}

/** Where and how spans go; the proxy keeps one sink per distinct target. */
export type ExporterTarget =
  | { protocol: "otlp"; cluster: string; url: URL; timeoutMs: number; headers: Record<string, string>; resource: Record<string, AttributeValue> }
  /** OTLP over gRPC (TraceService/Export) through envoy_grpc's cluster. */
  | { protocol: "otlp-grpc"; cluster: string; authority: string; metadata: Array<[string, string]>; timeoutMs: number; resource: Record<string, AttributeValue> }
  | { protocol: "zipkin"; cluster: string; path: string; host: string; serviceName: string; timeoutMs: number };
