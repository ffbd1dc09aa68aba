// Istio's Telemetry resource and MeshConfig extensionProviders on a real mesh (trellis control + trellis run) with a
// real Jaeger: a root-namespace Telemetry sends every span to Jaeger over OTLP/gRPC at 100%, a namespace Telemetry
// sends client spans over Zipkin instead, and a workload Telemetry turns off one workload's server spans; the trace
// of sleep -> productpage -> reviews stays joined across every hop, read back through Jaeger's query API.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/universal/workload-spec.js";
import { GatewayMesh, httpGet } from "../fixtures/gateway-mesh.js";
import { awaitJaegerTrace, type Jaeger, type JaegerTrace, otelBinaries, startJaeger } from "../fixtures/otel-backends.js";

const binaries = otelBinaries();
const skip = "skip" in binaries ? binaries.skip : false;
const dir = mkdtempSync(join(tmpdir(), "trellis-telemetry-"));
const mesh = new GatewayMesh(join(dir, "state"));
let jaeger: Jaeger;
let sleepPort = 0;

after(async () => {
  await mesh.stop();
  await jaeger?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// productpage calls reviews through its sidecar's local port, forwarding the trace headers as Bookinfo's apps do.
const productpage = (reviewsPort: number) => `const http = require('http');
const keep = ['traceparent', 'tracestate', 'x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3'];
http.createServer((q, s) => {
  const headers = {};
  for (const h of keep) if (q.headers[h]) headers[h] = q.headers[h];
  http.get({ host: '127.0.0.1', port: ${reviewsPort}, path: '/reviews/0', headers: { ...headers, host: 'reviews' } }, (r) => {
    let body = '';
    r.on('data', (d) => (body += d));
    r.on('end', () => s.end(JSON.stringify({ productpage: q.headers, reviews: JSON.parse(body) })));
  }).on('error', (e) => { s.statusCode = 502; s.end(e.message); });
}).listen(process.env.PORT, '127.0.0.1', () => console.log('productpage ready'));`;
const REVIEWS = "require('http').createServer((q, s) => s.end(JSON.stringify(q.headers))).listen(process.env.PORT, '127.0.0.1', () => console.log('reviews ready'))";

async function put(r: { kind: string; metadata: { name: string; namespace: string }; spec: unknown }): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${mesh.api}/apis/telemetry.istio.io/v1/namespaces/${r.metadata.namespace}/telemetries/${r.metadata.name}`, {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ apiVersion: "telemetry.istio.io/v1", ...r }),
  });
  assert.ok(res.status < 300, `${r.metadata.name}: ${res.status} ${await res.text()}`);
}

before(async () => {
  if (skip || !("bin" in binaries)) return;
  jaeger = await startJaeger(binaries.bin);
  const meshConfig = join(dir, "mesh.yaml");
  writeFileSync(meshConfig, `extensionProviders:
- name: jaeger-otlp
  opentelemetry: { service: 127.0.0.1, port: ${jaeger.otlpGrpc} }
- name: jaeger-zipkin
  zipkin: { service: 127.0.0.1, port: ${jaeger.zipkin} }
`);
  await mesh.start(["--mesh-config", meshConfig]);
  await put({ kind: "Telemetry", metadata: { name: "mesh-default", namespace: "istio-system" }, spec: { tracing: [{ providers: [{ name: "jaeger-otlp" }], randomSamplingPercentage: 100 }] } });
  await put({ kind: "Telemetry", metadata: { name: "clients-to-zipkin", namespace: "default" }, spec: { tracing: [{ match: { mode: "CLIENT" }, providers: [{ name: "jaeger-zipkin" }] }] } });
  const reviewsLocal = await freePort();
  sleepPort = await freePort();
  await mesh.run("reviews", "9080", REVIEWS, /reviews ready/);
  await mesh.run("productpage", "9080", productpage(reviewsLocal), /productpage ready/, ["--upstream", `reviews:9080=${reviewsLocal}`]);
  await mesh.run("sleep", "9999", "require('http').createServer((q, s) => s.end()).listen(process.env.PORT, '127.0.0.1', () => console.log('sleep ready'))", /sleep ready/, ["--upstream", `productpage:9080=${sleepPort}`]);
});

async function call(): Promise<{ traceId: string; reviewsSaw: Record<string, string> }> {
  for (let i = 0; i < 150; i++) {
    const r = await httpGet(sleepPort, "productpage", "/productpage").catch(() => undefined);
    if (r?.status === 200) {
      const body = JSON.parse(r.body) as { productpage: Record<string, string>; reviews: Record<string, string> };
      return { traceId: body.productpage.traceparent.split("-")[1], reviewsSaw: body.reviews };
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error("sleep -> productpage -> reviews never answered 200");
}

function summary(t: JaegerTrace): Array<{ service: string; kind: unknown; viaOtlp: boolean; parent?: string; id: string }> {
  return t.spans.map((s) => ({
    service: t.processes[s.processID].serviceName, kind: s.tags.find((x) => x.key === "span.kind")?.value, id: s.spanID, parent: s.references[0]?.spanID,
    // The OTLP exporter names its instrumentation scope; spans that came through Zipkin have none.
    viaOtlp: s.tags.some((x) => x.key === "otel.scope.name" && x.value === "trellis-proxy"),
  }));
}

test("root + namespace Telemetry: server spans over OTLP/gRPC, client spans over Zipkin, one joined trace in Jaeger", { skip }, async () => {
  const { traceId, reviewsSaw } = await call();
  assert.equal(reviewsSaw.traceparent.split("-")[1], traceId, "the trace reached reviews");
  assert.match(reviewsSaw.traceparent, /-01$/, "sampled at 100% by the root Telemetry");
  const trace = await awaitJaegerTrace(jaeger.query, "productpage.default", (t) => t.traceID === traceId, 4);
  const spans = summary(trace);
  const of = (service: string, kind: string) => spans.find((s) => s.service === service && s.kind === kind);
  const sleepClient = of("sleep.default", "client");
  const ppServer = of("productpage.default", "server");
  const ppClient = of("productpage.default", "client");
  const reviewsServer = of("reviews.default", "server");
  assert.ok(sleepClient && ppServer && ppClient && reviewsServer, JSON.stringify(spans));
  assert.equal(ppServer.parent, sleepClient.id);
  assert.equal(ppClient.parent, ppServer.id, "productpage forwarded the context to its own outbound call");
  assert.equal(reviewsServer.parent, ppClient.id);
  assert.deepEqual([sleepClient.viaOtlp, ppClient.viaOtlp], [false, false], "client spans went through Zipkin (namespace Telemetry, mode CLIENT)");
  assert.deepEqual([ppServer.viaOtlp, reviewsServer.viaOtlp], [true, true], "server spans went over OTLP (root Telemetry)");
});

test("a workload Telemetry turns off one workload's server spans; the context still propagates through it", { skip }, async () => {
  await put({ kind: "Telemetry", metadata: { name: "reviews-quiet", namespace: "default" }, spec: { selector: { matchLabels: { app: "reviews" } }, tracing: [{ match: { mode: "SERVER" }, disableSpanReporting: true }] } });
  // Config reaches the proxies asynchronously: call until a trace shows the new shape (bounded by awaitJaegerTrace).
  let last = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    const { traceId, reviewsSaw } = await call();
    assert.equal(reviewsSaw.traceparent.split("-")[1], traceId);
    const trace = await awaitJaegerTrace(jaeger.query, "productpage.default", (t) => t.traceID === traceId, 3);
    // Let the last spans of this trace arrive before judging it.
    await new Promise((r) => setTimeout(r, 1500));
    const again = await awaitJaegerTrace(jaeger.query, "productpage.default", (t) => t.traceID === trace.traceID, 3);
    const spans = summary(again);
    last = JSON.stringify(spans);
    if (!spans.some((s) => s.service === "reviews.default")) {
      assert.ok(spans.some((s) => s.service === "productpage.default" && s.kind === "client"), "productpage's call to reviews is still traced");
      return;
    }
  }
  assert.fail(`reviews kept reporting server spans: ${last}`);
});
