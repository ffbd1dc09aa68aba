// The HTTP connection manager's tracing (HttpConnectionManager.tracing, a provider from tracer-providers.ts): decides
// sampling, continues or starts the caller's trace, hands the next hop this proxy's span, and reports the span with
// Envoy's standard tags when the response ends. Compiled once per config; per request it is a few string writes.
import type { HttpConnectionManager__Output } from "../../xds/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";
import { SPAN_KIND, STATUS_CODE, type AttributeValue } from "../../xds/otlp-trace.js";
import type { StreamContext } from "../http/stream-context.js";
import { extractContext, injectContext, newSpanId, newTraceId } from "./trace-context.js";
import type { ExporterTarget, SpanSink } from "./span-sink.js";
import { type ProviderContext, tracerProvider } from "./tracer-providers.js";

type TracingConfig = NonNullable<HttpConnectionManager__Output["tracing"]>;

export interface ActiveSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState?: string;
}

export interface TracerDeps extends ProviderContext {
  exporter(target: ExporterTarget): SpanSink;
  nodeId(): string;
}

function percent(p: { value: number } | null, fallback: number): number {
  return p ? Math.min(100, Math.max(0, p.value)) : fallback;
}

export class Tracer {
  private readonly randomSampling: number;
  private readonly clientSampling: number;
  private readonly overallSampling: number;
  private readonly maxPathTag: number;
  private readonly literalTags: Record<string, AttributeValue> = {};
  private readonly headerTags: Array<{ tag: string; header: string; fallback: string }> = [];
  private readonly exporter: SpanSink;
  private readonly traceId64: boolean;
  private readonly kind: number;

  constructor(config: TracingConfig, deps: TracerDeps, direction: "INBOUND" | "OUTBOUND" | "UNSPECIFIED", where: string) {
    this.randomSampling = percent(config.random_sampling, 100);
    this.clientSampling = percent(config.client_sampling, 100);
    this.overallSampling = percent(config.overall_sampling, 100);
    this.maxPathTag = config.max_path_tag_length?.value ?? 256;
    this.kind = direction === "OUTBOUND" ? SPAN_KIND.client : SPAN_KIND.server;
    config.custom_tags.forEach((t, i) => {
      if (t.literal) this.literalTags[t.tag] = t.literal.value;
      else if (t.environment) this.literalTags[t.tag] = process.env[t.environment.name] ?? t.environment.default_value;
      else if (t.request_header) this.headerTags.push({ tag: t.tag, header: t.request_header.name.toLowerCase(), fallback: t.request_header.default_value });
      else throw new Error(`${where}.custom_tags[${i}]: only literal, environment and request_header tags are supported`);
    });
    this.literalTags.component = "proxy";
    this.literalTags.node_id = deps.nodeId();
    const provider = tracerProvider(config.provider?.typed_config, deps, `${where}.provider`);
    this.traceId64 = provider.traceId64;
    this.exporter = deps.exporter(provider.target);
  }

  /** Starts this proxy's span for a request, and rewrites the trace headers that go upstream. */
  start(ctx: StreamContext): ActiveSpan | undefined {
    const incoming = extractContext(ctx.view);
    let sampled = incoming?.sampled;
    if (ctx.view.header("x-envoy-force-trace") !== undefined) sampled = true;
    if (sampled === undefined) {
      const rate = ctx.view.header("x-client-trace-id") !== undefined ? this.clientSampling : this.randomSampling;
      sampled = Math.random() * 100 < rate && Math.random() * 100 < this.overallSampling;
    }
    const traceId = incoming?.traceId ?? (this.traceId64 ? `0000000000000000${newTraceId().slice(16)}` : newTraceId());
    const spanId = newSpanId();
    const parentSpanId = incoming?.parentSpanId ?? "";
    injectContext(ctx.upstreamHeaders, traceId, spanId, parentSpanId, sampled);
    return sampled ? { traceId, spanId, parentSpanId, traceState: incoming?.traceState } : undefined;
  }

  /** Reports the span once the response is over (called from the stream's close). */
  finish(ctx: StreamContext, span: ActiveSpan): void {
    const view = ctx.view;
    const attributes: Record<string, AttributeValue> = { ...this.literalTags };
    const url = `${view.scheme}://${view.authority}${view.path}`;
    attributes["http.url"] = url.length > this.maxPathTag ? url.slice(0, this.maxPathTag) : url;
    attributes["http.method"] = view.method;
    attributes["http.protocol"] = ctx.req.httpVersion === "2.0" ? "HTTP/2" : `HTTP/${ctx.req.httpVersion}`;
    attributes["http.status_code"] = String(ctx.responseCode);
    attributes["guid:x-request-id"] = ctx.requestId;
    attributes["downstream_cluster"] = view.header("x-envoy-downstream-service-cluster") ?? "-";
    attributes["user_agent"] = view.header("user-agent") ?? "-";
    attributes["peer.address"] = ctx.conn.remoteAddress;
    attributes["request_size"] = String(ctx.bytesReceived);
    attributes["response_size"] = String(ctx.bytesSent);
    attributes["response_flags"] = ctx.flags.length > 0 ? ctx.flags.join(",") : "-";
    if (ctx.upstreamCluster) {
      attributes["upstream_cluster"] = ctx.upstreamCluster;
      attributes["upstream_cluster.name"] = ctx.upstreamCluster;
    }
    if (ctx.upstreamHost) attributes["upstream_address"] = ctx.upstreamHost;
    for (const t of this.headerTags) attributes[t.tag] = view.header(t.header) ?? t.fallback;
    const error = ctx.responseCode >= 500 || ctx.responseCode === 0;
    if (error) attributes.error = true;
    const startNs = BigInt(ctx.startTime) * 1_000_000n;
    this.exporter.add({
      traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId, traceState: span.traceState,
      name: ctx.route?.operation || `${view.authority}${view.pathOnly}`, kind: this.kind,
      startTimeUnixNano: startNs, endTimeUnixNano: startNs + (process.hrtime.bigint() - ctx.startHr),
      attributes, statusCode: error ? STATUS_CODE.error : STATUS_CODE.unset,
    });
  }
}
