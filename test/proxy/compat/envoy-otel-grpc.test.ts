// envoy.tracers.opentelemetry with grpc_service (envoy_grpc to a collector cluster), as Envoy's opentelemetry example
// configures it: a real proxy process exports spans with TraceService/Export to a real gRPC server on loopback.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { request } from "node:http";
import { decodeTraceRequest, type OtlpBatch } from "../../../src/xds/otlp-trace.js";
import { echo } from "../harness.js";
import { startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

const closers: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of closers.reverse()) await c(); });

async function collector(): Promise<{ port: number; batches: OtlpBatch[]; metadata: grpc.Metadata[] }> {
  const batches: OtlpBatch[] = [];
  const metadata: grpc.Metadata[] = [];
  const server = new grpc.Server();
  const identity = (b: Buffer) => b;
  server.addService({
    Export: { path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  }, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      batches.push(...decodeTraceRequest(call.request));
      metadata.push(call.metadata);
      cb(null, Buffer.alloc(0));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  closers.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  return { port, batches, metadata };
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { host: "frontend" }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

test("spans go to the collector over gRPC, with the service name and initial_metadata", async () => {
  const app = await echo("app");
  closers.push(() => app.close());
  const otel = await collector();
  const p = await startBootstrapProxy(`static_resources:
  listeners:
  - name: front
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: front
          tracing:
            provider:
              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                grpc_service:
                  envoy_grpc: { cluster_name: opentelemetry_collector }
                  timeout: 2s
                  initial_metadata:
                  - { key: x-tenant, value: compat }
                service_name: front-envoy
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: app }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: app
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${app.port} } } }
  - name: opentelemetry_collector
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
    load_assignment:
      cluster_name: opentelemetry_collector
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${otel.port} } } }
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`);
  closers.push(() => p.stop());
  const r = await get(p.listeners.get("front")!);
  assert.equal(r.status, 200);
  const traceId = /^00-([0-9a-f]{32})-/.exec(JSON.parse(r.body).headers.traceparent)![1];
  for (let i = 0; i < 100 && otel.batches.length === 0; i++) await new Promise((res) => setTimeout(res, 100));
  const spans = otel.batches.flatMap((b) => b.spans.map((s) => ({ ...s, service: b.resource["service.name"] })));
  assert.equal(spans.length, 1, `${spans.length} spans in ${otel.batches.length} batches`);
  assert.equal(spans[0].traceId, traceId);
  assert.equal(spans[0].service, "front-envoy");
  assert.deepEqual(otel.metadata[0].get("x-tenant"), ["compat"]);
});
