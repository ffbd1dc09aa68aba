// Sends finished spans to a Zipkin collector as Zipkin's JSON v2 (POST a list of spans to collector_endpoint, e.g.
// /api/v2/spans) through the collector cluster's endpoints, as Envoy's envoy.tracers.zipkin with HTTP_JSON does.
// Batched off the request path with a bounded queue: a slow or absent collector costs dropped spans, never traffic.
import { Agent, request } from "node:http";
import { SPAN_KIND, type OtlpSpan } from "../../xds/otlp-trace.js";
import type { Stats } from "../stats/stats.js";
import type { UpstreamCluster } from "../upstream/cluster.js";
import type { ExporterTarget, SpanSink } from "./span-sink.js";
import { ExportQueue } from "./export-queue.js";

type ZipkinTarget = Extract<ExporterTarget, { protocol: "zipkin" }>;

/** One span in Zipkin's v2 JSON model (timestamps and durations in microseconds, ids in lower-case hex). */
export function zipkinSpan(span: OtlpSpan, serviceName: string): Record<string, unknown> {
  const startUs = span.startTimeUnixNano / 1000n;
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(span.attributes ?? {})) tags[k] = String(v);
  return {
    // A 64-bit trace id travels zero-padded in W3C headers; Zipkin gets its 16 digits back.
    traceId: span.traceId.startsWith("0000000000000000") ? span.traceId.slice(16) : span.traceId,
    id: span.spanId,
    ...(span.parentSpanId ? { parentId: span.parentSpanId } : {}),
    name: span.name,
    kind: span.kind === SPAN_KIND.client ? "CLIENT" : "SERVER",
    timestamp: Number(startUs),
    duration: Math.max(1, Number((span.endTimeUnixNano - span.startTimeUnixNano) / 1000n)),
    localEndpoint: { serviceName },
    tags,
  };
}

export class ZipkinExporter implements SpanSink {
  private readonly queue: ExportQueue;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });

  constructor(private readonly target: ZipkinTarget, private readonly cluster: (name: string) => UpstreamCluster | undefined, stats: Stats) {
    this.queue = new ExportQueue((spans) => this.send(spans), stats, {
      describe: `Zipkin at ${target.path} via cluster ${target.cluster}`,
      stats: { sent: "tracing.zipkin.spans_sent", dropped: "tracing.zipkin.spans_dropped", failed: "tracing.zipkin.reports_failed" },
    });
  }

  add(span: OtlpSpan): void {
    this.queue.add(span);
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }

  close(): void {
    this.queue.close();
    this.agent.destroy();
  }

  private send(spans: OtlpSpan[]): Promise<void> {
    const endpoint = this.cluster(this.target.cluster)?.pick(undefined);
    if (!endpoint) return Promise.reject(new Error(`cluster ${this.target.cluster} has no healthy endpoint`));
    const body = Buffer.from(JSON.stringify(spans.map((s) => zipkinSpan(s, this.target.serviceName))));
    return new Promise((resolve, reject) => {
      const req = request({
        host: endpoint.address, port: endpoint.port, method: "POST", path: this.target.path, agent: this.agent, timeout: this.target.timeoutMs,
        headers: { host: this.target.host, "content-type": "application/json", "content-length": body.length },
      }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode! < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.target.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}
