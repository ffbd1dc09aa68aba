// Sends finished spans in batches over OTLP/HTTP (protobuf) to the collector an OpenTelemetry tracer's http_service
// names, through that cluster's endpoints. Off the request path: spans queue, a timer or a full batch flushes them.
// A bounded queue: when the collector is slow or down, the oldest spans are dropped and counted, never the traffic.
import { Agent, request } from "node:http";
import { encodeTraceRequest, type OtlpSpan } from "../../xds/otlp-trace.js";
import type { ExporterTarget, SpanSink } from "./span-sink.js";
import { GrpcUnaryCaller } from "../upstream/grpc-unary.js";
import type { Stats } from "../stats/stats.js";
import type { UpstreamCluster } from "../upstream/cluster.js";

const MAX_QUEUE = 4096;
// Small batches: encoding one is a synchronous pause every request queued behind it feels (~1 ms for 128 spans).
const BATCH = 128;
const FLUSH_MS = 1000;

type OtlpTarget = Extract<ExporterTarget, { protocol: "otlp" | "otlp-grpc" }>;

const EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

export class OtlpExporter implements SpanSink {
  private queue: OtlpSpan[] = [];
  private timer?: NodeJS.Timeout;
  private sending = false;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  private readonly grpc?: GrpcUnaryCaller;
  private warned = false;

  constructor(private readonly target: OtlpTarget, private readonly cluster: (name: string) => UpstreamCluster | undefined, private readonly stats: Stats) {
    if (target.protocol === "otlp-grpc") this.grpc = new GrpcUnaryCaller(target.cluster, cluster);
  }

  add(span: OtlpSpan): void {
    if (this.queue.length >= MAX_QUEUE) {
      this.queue.shift();
      this.stats.inc("tracing.opentelemetry.spans_dropped");
    }
    this.queue.push(span);
    if (this.queue.length >= BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Sends what is queued; resolves when the last batch is answered (used on shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && !this.sending) {
      const batch = this.queue.splice(0, BATCH);
      this.sending = true;
      try {
        await this.send(batch);
        this.stats.inc("tracing.opentelemetry.spans_sent", batch.length);
      } catch (err) {
        this.stats.inc("tracing.opentelemetry.export_failures");
        this.stats.inc("tracing.opentelemetry.spans_dropped", batch.length);
        if (!this.warned) console.error(`trellis proxy: cannot export spans to ${this.target.protocol === "otlp" ? this.target.url.href : `${EXPORT} (gRPC)`} via cluster ${this.target.cluster}: ${(err as Error).message} (further failures are counted in tracing.opentelemetry.export_failures)`);
        this.warned = true;
      } finally {
        this.sending = false;
      }
    }
    if (this.queue.length > 0) this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  close(): void {
    clearTimeout(this.timer);
    this.agent.destroy();
    this.grpc?.close();
  }

  private async send(spans: OtlpSpan[]): Promise<void> {
    const target = this.target;
    if (target.protocol === "otlp-grpc") {
      // The same ExportTraceServiceRequest as OTLP/HTTP's protobuf body, as a unary gRPC call.
      const body = encodeTraceRequest([{ resource: target.resource, spans }], "trellis-proxy");
      await this.grpc!.call({ path: EXPORT, body: Buffer.from(body), timeoutMs: target.timeoutMs, metadata: target.metadata, authority: target.authority });
      return;
    }
    return this.post(target, spans);
  }

  private post(target: Extract<OtlpTarget, { protocol: "otlp" }>, spans: OtlpSpan[]): Promise<void> {
    const endpoint = this.cluster(target.cluster)?.pick(undefined);
    if (!endpoint) return Promise.reject(new Error(`cluster ${target.cluster} has no healthy endpoint`));
    const body = encodeTraceRequest([{ resource: target.resource, spans }], "trellis-proxy");
    return new Promise((resolve, reject) => {
      const req = request({
        host: endpoint.address, port: endpoint.port, method: "POST", path: target.url.pathname + target.url.search, agent: this.agent,
        headers: { ...target.headers, host: target.url.host, "content-type": "application/x-protobuf", "content-length": body.length },
        timeout: target.timeoutMs,
      }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode! < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${target.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}
