// envoy.tracers.zipkin as Envoy's zipkin example and Istio's bootstrap configure it: a real proxy process posts
// Zipkin JSON v2 spans to a collector (a real HTTP server on loopback that keeps what it is sent), B3 and W3C reach
// the app, and 64-bit trace ids are used unless trace_id_128bit says otherwise.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { echo } from "../harness.js";
import { startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

const closers: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of closers.reverse()) await c(); });

interface Posted { path: string; host: string; contentType: string; spans: Array<Record<string, unknown>> }

async function collector(): Promise<{ port: number; posted: Posted[] }> {
  const posted: Posted[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      posted.push({ path: req.url!, host: String(req.headers.host), contentType: String(req.headers["content-type"]), spans: JSON.parse(body) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return { port: (server.address() as AddressInfo).port, posted };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host: "productpage" }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

function bootstrap(appPort: number, zipkinPort: number, zipkinExtra: string): string {
  return `node:
  id: front-proxy-1
  cluster: front-proxy
static_resources:
  listeners:
  - address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    traffic_direction: OUTBOUND
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          generate_request_id: true
          tracing:
            provider:
              name: envoy.tracers.zipkin
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                collector_cluster: zipkin
                collector_endpoint: "/api/v2/spans"
                collector_endpoint_version: HTTP_JSON${zipkinExtra}
          codec_type: AUTO
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: service1 }
                decorator: { operation: checkAvailability }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: service1
    type: STRICT_DNS
    lb_policy: ROUND_ROBIN
    load_assignment:
      cluster_name: service1
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${appPort} } } }
  - name: zipkin
    type: STRICT_DNS
    lb_policy: ROUND_ROBIN
    load_assignment:
      cluster_name: zipkin
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${zipkinPort} } } }
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`;
}

async function spansFor(posted: Posted[], n: number): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 100; i++) {
    const spans = posted.flatMap((p) => p.spans);
    if (spans.length >= n) return spans;
    await new Promise((r) => setTimeout(r, 100)); // spans are batched: up to a second
  }
  throw new Error(`fewer than ${n} spans reached the collector: ${JSON.stringify(posted)}`);
}

test("Zipkin JSON v2 to collector_endpoint, B3 to the app, 64-bit trace ids by default", async () => {
  const app = await echo("service1");
  closers.push(() => app.close());
  const zipkin = await collector();
  const p = await startBootstrapProxy(bootstrap(app.port, zipkin.port, ""));
  closers.push(() => p.stop());
  const [port] = p.listeners.values();
  const r = await get(port, "/trace/1");
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body).headers as Record<string, string>;
  assert.match(seen["x-b3-traceid"], /^[0-9a-f]{16}$/, "a 64-bit trace id in B3");
  assert.equal(seen.traceparent.split("-")[1], `0000000000000000${seen["x-b3-traceid"]}`, "the same trace, zero-padded in W3C");
  const [span] = await spansFor(zipkin.posted, 1);
  assert.equal(zipkin.posted[0].path, "/api/v2/spans");
  assert.equal(zipkin.posted[0].host, "zipkin", "Host: the collector cluster's name, as Envoy sends it");
  assert.equal(zipkin.posted[0].contentType, "application/json");
  assert.equal(span.traceId, seen["x-b3-traceid"]);
  assert.equal(span.id, seen["x-b3-spanid"]);
  assert.equal(span.parentId, undefined, "the proxy started the trace");
  assert.equal(span.name, "checkAvailability");
  assert.equal(span.kind, "CLIENT", "an OUTBOUND listener's span is the client side of the hop");
  assert.deepEqual(span.localEndpoint, { serviceName: "front-proxy" });
  assert.equal(typeof span.timestamp, "number");
  assert.ok((span.duration as number) >= 1);
  const tags = span.tags as Record<string, string>;
  assert.equal(tags["http.status_code"], "200");
  assert.equal(tags["http.method"], "GET");
  assert.equal(tags.upstream_cluster, "service1");
});

test("trace_id_128bit and collector_hostname (Istio's bootstrap): 128-bit ids, the Host it names", async () => {
  const app = await echo("service1");
  closers.push(() => app.close());
  const zipkin = await collector();
  const p = await startBootstrapProxy(bootstrap(app.port, zipkin.port, `
                trace_id_128bit: true
                shared_span_context: false
                collector_hostname: zipkin.istio-system:9411`));
  closers.push(() => p.stop());
  const [port] = p.listeners.values();
  const seen = JSON.parse((await get(port, "/")).body).headers as Record<string, string>;
  assert.match(seen["x-b3-traceid"], /^[0-9a-f]{32}$/);
  const [span] = await spansFor(zipkin.posted, 1);
  assert.equal(span.traceId, seen["x-b3-traceid"]);
  assert.equal(zipkin.posted[0].host, "zipkin.istio-system:9411");
});
