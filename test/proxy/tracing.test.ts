// Tracing through real proxies: a client-side and a server-side proxy (as a mesh hop is) export spans over OTLP/HTTP
// to a real intake; the trace joins both spans with the caller's context, and the app sees the server span as parent.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, test } from "node:test";
import { TraceStore } from "../../src/telemetry/traces/trace-store.js";
import { startOtlpIntake } from "../../src/telemetry/traces/otlp-intake.js";
import { echo, get, httpListener, proxy, ROUTER, staticCluster, type Backend, type TestProxy } from "./harness.js";

const store = new TraceStore();
let intake: Server;
let app: Backend;
let server: TestProxy;
let client: TestProxy;
let unsampled: TestProxy;

function tracing(service: string, percent: number, collectorPort: number) {
  return {
    random_sampling: { value: percent },
    custom_tags: [{ tag: "istio.namespace", literal: { value: "default" } }, { tag: "end-user", request_header: { name: "end-user", default_value: "nobody" } }],
    provider: { name: "envoy.tracers.opentelemetry", typed_config: {
      "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig", service_name: service,
      http_service: { http_uri: { uri: `http://127.0.0.1:${collectorPort}/v1/traces`, cluster: "otlp", timeout: "1s" } },
    } },
  };
}

function routes(cluster: string, operation: string) {
  return { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster }, decorator: { operation } }] }] };
}

before(async () => {
  intake = await startOtlpIntake(store, "127.0.0.1", 0);
  const collectorPort = (intake.address() as { port: number }).port;
  app = await echo("reviews");
  server = await proxy([{ ...httpListener("inbound", routes("app", "reviews.default.svc.cluster.local:9080/*"), [ROUTER], { tracing: tracing("reviews.default", 100, collectorPort) }), traffic_direction: "INBOUND" }], [staticCluster("app", [app.port]), staticCluster("otlp", [collectorPort])]);
  client = await proxy([{ ...httpListener("outbound", routes("reviews", "reviews.default.svc.cluster.local:9080/*"), [ROUTER], { tracing: tracing("productpage.default", 100, collectorPort) }), traffic_direction: "OUTBOUND" }], [staticCluster("reviews", [server.port()]), staticCluster("otlp", [collectorPort])]);
  unsampled = await proxy([{ ...httpListener("outbound", routes("reviews", "x"), [ROUTER], { tracing: tracing("sampled-never", 0, collectorPort) }), traffic_direction: "OUTBOUND" }], [staticCluster("reviews", [server.port()]), staticCluster("otlp", [collectorPort])]);
});
after(async () => {
  for (const p of [client, server, unsampled]) await p?.stop();
  await app?.close();
  intake?.closeAllConnections();
  await new Promise((r) => intake?.close(r));
});

async function spansOf(traceId: string, n: number) {
  for (let i = 0; i < 50; i++) {
    const t = store.get(traceId);
    if (t && t.spans.length >= n) return t.spans;
    await new Promise((r) => setTimeout(r, 100)); // spans are batched: up to a second
  }
  throw new Error(`trace ${traceId} never had ${n} spans: ${JSON.stringify(store.get(traceId))}`);
}

test("a new trace: client span then server span, joined; the app sees the server span as its parent in W3C and B3", async () => {
  const res = await get(client.url("/reviews/1"), { "end-user": "jason" });
  assert.equal(res.status, 200);
  const seen = res.json().headers as Record<string, string>;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceparent);
  assert.ok(m, `traceparent reached the app: ${seen.traceparent}`);
  const [, traceId, serverSpanId] = m;
  assert.equal(seen["x-b3-traceid"], traceId);
  assert.equal(seen["x-b3-spanid"], serverSpanId);
  assert.equal(seen["x-b3-sampled"], "1");
  const spans = await spansOf(traceId, 2);
  const clientSpan = spans.find((s) => s.kind === "client")!;
  const serverSpan = spans.find((s) => s.kind === "server")!;
  assert.equal(clientSpan.service, "productpage.default");
  assert.equal(serverSpan.service, "reviews.default");
  assert.equal(clientSpan.parentSpanId, "", "the client proxy started the trace");
  assert.equal(serverSpan.parentSpanId, clientSpan.spanId);
  assert.equal(serverSpan.spanId, serverSpanId);
  assert.equal(seen["x-b3-parentspanid"], clientSpan.spanId);
  assert.equal(serverSpan.operation, "reviews.default.svc.cluster.local:9080/*");
  assert.equal(serverSpan.tags["http.status_code"], "200");
  assert.equal(serverSpan.tags["http.method"], "GET");
  assert.equal(serverSpan.tags["istio.namespace"], "default");
  assert.equal(serverSpan.tags["end-user"], "jason");
  assert.equal(clientSpan.tags.upstream_cluster, "reviews");
  assert.ok(serverSpan.startTime >= clientSpan.startTime && serverSpan.durationMs <= clientSpan.durationMs + 1, "the server span sits inside the client span");
});

test("the caller's W3C context is continued (tracestate kept); B3 from a Zipkin-instrumented caller too", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const parent = "00f067aa0ba902b7";
  const w3c = (await get(client.url("/"), { traceparent: `00-${traceId}-${parent}-01`, tracestate: "vendor=x" })).json().headers as Record<string, string>;
  assert.match(w3c.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  assert.equal(w3c.tracestate, "vendor=x");
  const spans = await spansOf(traceId, 2);
  assert.equal(spans.find((s) => s.kind === "client")!.parentSpanId, parent);
  const b3Trace = "80f198ee56343ba864fe8b2a57d3eff7";
  const b3 = (await get(client.url("/"), { "x-b3-traceid": b3Trace, "x-b3-spanid": "e457b5a2e4d86bd1", "x-b3-sampled": "1" })).json().headers as Record<string, string>;
  assert.equal(b3["x-b3-traceid"], b3Trace);
  assert.match(b3.traceparent, new RegExp(`^00-${b3Trace}-`));
  assert.equal((await spansOf(b3Trace, 2)).find((s) => s.kind === "client")!.parentSpanId, "e457b5a2e4d86bd1");
  const short = (await get(client.url("/"), { b3: "a3ce929d0e0e4736-00f067aa0ba902b7-1" })).json().headers as Record<string, string>;
  assert.match(short.traceparent, /^00-0000000000000000a3ce929d0e0e4736-/, "64-bit B3 ids are padded to 128 bits");
});

test("not sampled: the decision travels with the request and no span is exported anywhere", async () => {
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const seen = (await get(client.url("/"), { traceparent: `00-${traceId}-b7ad6b7169203331-00` })).json().headers as Record<string, string>;
  assert.match(seen.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  const fresh = (await get(unsampled.url("/"))).json().headers as Record<string, string>;
  const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-00$/.exec(fresh.traceparent);
  assert.ok(m, "a 0% proxy still starts a context, marked not sampled, so the next hop does not sample it either");
  // A sampled request after both flushes through the same exporters: once it is in, the unsampled ones would be too.
  const marker = (await get(client.url("/"))).json().headers as Record<string, string>;
  await spansOf(marker.traceparent.split("-")[1], 2);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(store.get(traceId), undefined);
  assert.equal(store.get(m[1]), undefined);
});

test("a malformed traceparent is ignored, not trusted: a fresh trace starts", async () => {
  const seen = (await get(client.url("/"), { traceparent: "00-00000000000000000000000000000000-b7ad6b7169203331-01" })).json().headers as Record<string, string>;
  assert.doesNotMatch(seen.traceparent, /^00-0{32}-/);
  assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});
