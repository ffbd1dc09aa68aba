// Sends finished spans to a Zipkin collector as Zipkin's JSON v2 (POST a list of spans to collector_endpoint, e.g.
// /api/v2/spans) through the collector cluster's endpoints, as Envoy's envoy.tracers.zipkin with HTTP_JSON does.
// Batched off the request path with a bounded queue: a slow or absent collector costs dropped spans, never traffic.
import { Agent, request } from "node:http";
import { SPAN_KIND, type OtlpSpan } from "../../xds/otlp-trace.js";
import type { Stats } from "../stats/stats.js";
import type { UpstreamCluster } from "../upstream/cluster.js";
import type { ExporterTarget, SpanSink } from "./span-sink.js";

const MAX_QUEUE = 4096;
const BATCH = 128;
const FLUSH_MS = 1000;

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
  private queue: OtlpSpan[] = [];
  private timer?: NodeJS.Timeout;
  private sending = false;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  private warned = false;

  constructor(private readonly target: ZipkinTarget, private readonly cluster: (name: string) => UpstreamCluster | undefined, private readonly stats: Stats) {}

  add(span: OtlpSpan): void {
    if (this.queue.length >= MAX_QUEUE) {
      this.queue.shift();
      this.stats.inc("tracing.zipkin.spans_dropped");
    }
    this.queue.push(span);
    if (this.queue.length >= BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && !this.sending) {
      const batch = this.queue.splice(0, BATCH);
      this.sending = true;
      try {
        await this.send(batch);
        this.stats.inc("tracing.zipkin.spans_sent", batch.length);
      } catch (err) {
        this.stats.inc("tracing.zipkin.reports_failed");
        this.stats.inc("tracing.zipkin.spans_dropped", batch.length);
        if (!this.warned) console.error(`trellis proxy: cannot send spans to Zipkin at ${this.target.path} via cluster ${this.target.cluster}: ${(err as Error).message} (further failures are counted in tracing.zipkin.reports_failed)`);
        this.warned = true;
      } finally {
        this.sending = false;
      }
    }
    if (this.queue.length > 0) this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  close(): void {
    clearTimeout(this.timer);
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
