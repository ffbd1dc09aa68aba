// Trellis proxies export to a real Jaeger v2 and a real OpenTelemetry Collector (built by scripts/install-otel.sh):
// a two-hop chain whose spans arrive over OTLP/gRPC and OTLP/HTTP and join into one trace, Zipkin JSON v2 continuing a
// B3 caller, the Collector path, and the sampling decision honoured; everything read back through Jaeger's /api/traces.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { request } from "node:http";
import { echo } from "../proxy/harness.js";
import { startBootstrapProxy, type BootstrapProxy } from "../fixtures/bootstrap-proxy.js";
import { awaitJaegerTrace, type Collector, type Jaeger, jaegerTraces, otelBinaries, startCollector, startJaeger } from "../fixtures/otel-backends.js";

const binaries = otelBinaries();
const skip = "skip" in binaries ? binaries.skip : false;
const closers: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of closers.reverse()) await c(); });

let jaeger: Jaeger;
let collector: Collector;
let appPort: number;

before(async () => {
  if (skip || !("bin" in binaries)) return;
  jaeger = await startJaeger(binaries.bin);
  closers.push(() => jaeger.stop());
  collector = await startCollector(binaries.bin, jaeger.otlpGrpc);
  closers.push(() => collector.stop());
  const app = await echo("app");
  closers.push(() => app.close());
  appPort = app.port;
});

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; seen: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host: "app", ...headers }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, seen: res.statusCode === 200 ? JSON.parse(body).headers : {} }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

const H2 = `
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }`;

function cluster(name: string, port: number, h2 = false): string {
  return `
  - name: ${name}${h2 ? H2 : ""}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
}

/** A bootstrap with one listener `name` routing everything to `upstream`, traced by `tracer` (a provider's YAML). */
function proxyYaml(name: string, direction: "INBOUND" | "OUTBOUND", tracer: string, sampling: number, clusters: string): string {
  return `node: { id: ${name}-1, cluster: ${name} }
static_resources:
  listeners:
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    traffic_direction: ${direction}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          generate_request_id: true
          tracing:
            random_sampling: { value: ${sampling} }
            provider:
${tracer}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: upstream }
                decorator: { operation: ${name}-op }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:${clusters}
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
`;
}

const otelGrpc = (service: string) => `              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                grpc_service: { envoy_grpc: { cluster_name: opentelemetry_collector }, timeout: 2s }
                service_name: ${service}`;
const otelHttp = (service: string, port: number) => `              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                http_service: { http_uri: { uri: "http://127.0.0.1:${port}/v1/traces", cluster: opentelemetry_collector, timeout: 2s } }
                service_name: ${service}`;
const zipkin = `              name: envoy.tracers.zipkin
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                collector_cluster: zipkin
                collector_endpoint: "/api/v2/spans"
                collector_endpoint_version: HTTP_JSON
                shared_span_context: false
                trace_id_128bit: true`;

async function started(yaml: string): Promise<BootstrapProxy> {
  const p = await startBootstrapProxy(yaml);
  closers.push(() => p.stop());
  return p;
}

test("two hops (OTLP/gRPC, then OTLP/HTTP) join one trace in Jaeger; W3C and B3 reach the app with the inner span", { skip }, async () => {
  const back = await started(proxyYaml("reviews", "INBOUND", otelHttp("reviews.default", jaeger.otlpHttp), 100, cluster("upstream", appPort) + cluster("opentelemetry_collector", jaeger.otlpHttp)));
  const front = await started(proxyYaml("productpage", "OUTBOUND", otelGrpc("productpage.default"), 100, cluster("upstream", back.listeners.get("reviews")!) + cluster("opentelemetry_collector", jaeger.otlpGrpc, true)));
  const r = await get(front.listeners.get("productpage")!, "/reviews/1");
  assert.equal(r.status, 200);
  const traceId = r.seen.traceparent.split("-")[1];
  const appParent = r.seen.traceparent.split("-")[2];
  assert.equal(r.seen["x-b3-traceid"], traceId, "B3 carries the same trace");
  assert.equal(r.seen["x-b3-spanid"], appParent);
  const trace = await awaitJaegerTrace(jaeger.query, "productpage.default", (t) => t.traceID === traceId, 2);
  const service = (s: { processID: string }) => trace.processes[s.processID].serviceName;
  const frontSpan = trace.spans.find((s) => service(s) === "productpage.default")!;
  const backSpan = trace.spans.find((s) => service(s) === "reviews.default")!;
  assert.ok(frontSpan && backSpan, `both services in the trace: ${JSON.stringify(trace.processes)}`);
  assert.equal(frontSpan.references.length, 0, "the front proxy started the trace");
  assert.deepEqual(backSpan.references.map((x) => [x.refType, x.spanID]), [["CHILD_OF", frontSpan.spanID]], "the second hop is the first one's child");
  assert.equal(backSpan.spanID, appParent, "the app's parent is the inner proxy's span");
  assert.equal(frontSpan.operationName, "productpage-op");
  const tag = (k: string) => frontSpan.tags.find((t) => t.key === k)?.value;
  assert.equal(tag("span.kind"), "client");
  assert.equal(tag("http.status_code"), "200");
  assert.equal(backSpan.tags.find((t) => t.key === "span.kind")?.value, "server");
});

test("Zipkin JSON v2 into Jaeger's Zipkin receiver continues a B3 caller's sampled trace", { skip }, async () => {
  const p = await started(proxyYaml("details", "INBOUND", zipkin, 0, cluster("upstream", appPort) + cluster("zipkin", jaeger.zipkin)));
  const traceId = "463ac35c9f6413ad48485a3953bb6124";
  const r = await get(p.listeners.get("details")!, "/details/0", { "x-b3-traceid": traceId, "x-b3-spanid": "a2fb4a1d1a96d312", "x-b3-sampled": "1" });
  assert.equal(r.status, 200);
  assert.equal(r.seen["x-b3-traceid"], traceId);
  assert.equal(r.seen["x-b3-parentspanid"], "a2fb4a1d1a96d312");
  // random_sampling 0, yet the caller said sampled: its decision wins, as Envoy's does.
  const trace = await awaitJaegerTrace(jaeger.query, "details", (t) => t.traceID === traceId);
  assert.equal(trace.spans.length, 1);
  assert.deepEqual(trace.spans[0].references.map((x) => x.spanID), ["a2fb4a1d1a96d312"]);
  assert.equal(trace.spans[0].spanID, r.seen["x-b3-spanid"]);
  assert.equal(trace.spans[0].operationName, "details-op");
});

test("through the Collector (OTLP/gRPC in, batch, OTLP/gRPC out) into Jaeger; unsampled requests export nothing", { skip }, async () => {
  const p = await started(proxyYaml("ratings", "INBOUND", otelGrpc("ratings.default"), 0, cluster("upstream", appPort) + cluster("opentelemetry_collector", collector.otlpGrpc, true)));
  const port = p.listeners.get("ratings")!;
  // random_sampling 0 and a caller that said nothing: not sampled, but the decision still travels.
  const quiet = await get(port, "/ratings/quiet");
  assert.equal(quiet.status, 200);
  assert.match(quiet.seen.traceparent, /-00$/);
  assert.equal(quiet.seen["x-b3-sampled"], "0");
  const forced = await get(port, "/ratings/forced", { "x-envoy-force-trace": "true" });
  assert.match(forced.seen.traceparent, /-01$/);
  const traceId = forced.seen.traceparent.split("-")[1];
  await awaitJaegerTrace(jaeger.query, "ratings.default", (t) => t.traceID === traceId);
  // Both went through one exporter queue in order, so the unsampled one would have arrived by now.
  const all = await jaegerTraces(jaeger.query, "ratings.default");
  assert.deepEqual(all.map((t) => t.traceID), [traceId], "only the sampled request's trace");
});
