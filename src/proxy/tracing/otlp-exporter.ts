// Sends finished spans in batches over OTLP/HTTP (protobuf) to the collector an OpenTelemetry tracer's http_service
// names, through that cluster's endpoints. Off the request path: spans queue, a timer or a full batch flushes them.
// The queue (export-queue.ts) is bounded: when the collector is slow or down, spans are dropped and counted, never traffic.
import { Agent, request } from "node:http";
import { encodeTraceRequest, type OtlpSpan } from "../../xds/otlp-trace.js";
import type { ExporterTarget, SpanSink } from "./span-sink.js";
import { GrpcUnaryCaller } from "../upstream/grpc-unary.js";
import { ExportQueue } from "./export-queue.js";
import type { Stats } from "../stats/stats.js";
import type { UpstreamCluster } from "../upstream/cluster.js";

type OtlpTarget = Extract<ExporterTarget, { protocol: "otlp" | "otlp-grpc" }>;

const EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

export class OtlpExporter implements SpanSink {
  private readonly queue: ExportQueue;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  private readonly grpc?: GrpcUnaryCaller;

  constructor(private readonly target: OtlpTarget, private readonly cluster: (name: string) => UpstreamCluster | undefined, stats: Stats) {
    if (target.protocol === "otlp-grpc") this.grpc = new GrpcUnaryCaller(target.cluster, cluster);
    const where = target.protocol === "otlp" ? target.url.href : `${EXPORT} (gRPC)`;
    this.queue = new ExportQueue((spans) => this.send(spans), stats, {
      describe: `${where} via cluster ${target.cluster}`,
      stats: { sent: "tracing.opentelemetry.spans_sent", dropped: "tracing.opentelemetry.spans_dropped", failed: "tracing.opentelemetry.export_failures" },
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
