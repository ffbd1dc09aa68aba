// Jaeger's HTTP query API on the embedded trace store, checked against the real Jaeger v2: the same OTLP batch goes to
// both, and services, operations, trace search (service, operation, tags, lookback, duration) and trace by id answer
// alike; parameters it cannot honour are refused with Jaeger's error shape.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { encodeTraceRequest, type OtlpBatch, SPAN_KIND, STATUS_CODE } from "../../src/xds/otlp-trace.js";
import { TraceStore } from "../../src/telemetry/traces/trace-store.js";
import { jaegerQueryApi } from "../../src/app/api/jaeger-query-api.js";
import { type Jaeger, otelBinaries, startJaeger } from "../fixtures/otel-backends.js";
import { until } from "../fixtures/until.js";

const binaries = otelBinaries();
const noJaeger = "skip" in binaries ? binaries.skip : false;
const closers: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of closers.reverse()) await c(); });

const store = new TraceStore();
let ours = "";
let jaeger: Jaeger | undefined;

const now = BigInt(Date.now()) * 1_000_000n;
const TRACE_A = "5b8efff798038103d269b633813fc60c";
const TRACE_B = "0af7651916cd43dd8448eb211c80319c";
const batches: OtlpBatch[] = [
  { resource: { "service.name": "productpage.default" }, spans: [
    { traceId: TRACE_A, spanId: "eee19b7ec3c1b174", parentSpanId: "", name: "productpage.default.svc.cluster.local:9080/productpage", kind: SPAN_KIND.server, startTimeUnixNano: now, endTimeUnixNano: now + 40_000_000n, attributes: { "http.status_code": "200", "http.method": "GET", component: "proxy" }, statusCode: STATUS_CODE.unset },
    { traceId: TRACE_A, spanId: "eee19b7ec3c1b175", parentSpanId: "eee19b7ec3c1b174", name: "reviews.default.svc.cluster.local:9080/*", kind: SPAN_KIND.client, startTimeUnixNano: now + 5_000_000n, endTimeUnixNano: now + 30_000_000n, attributes: { "http.status_code": "503", "upstream_cluster": "outbound|9080||reviews.default.svc.cluster.local" }, statusCode: STATUS_CODE.error },
  ] },
  { resource: { "service.name": "reviews.default" }, spans: [
    { traceId: TRACE_A, spanId: "eee19b7ec3c1b176", parentSpanId: "eee19b7ec3c1b175", name: "reviews.default.svc.cluster.local:9080/*", kind: SPAN_KIND.server, startTimeUnixNano: now + 6_000_000n, endTimeUnixNano: now + 29_000_000n, attributes: { "http.status_code": "503" }, statusCode: STATUS_CODE.error },
    { traceId: TRACE_B, spanId: "00f067aa0ba902b7", parentSpanId: "", name: "reviews.default.svc.cluster.local:9080/*", kind: SPAN_KIND.server, startTimeUnixNano: now + 1_000_000n, endTimeUnixNano: now + 3_000_000n, attributes: { "http.status_code": "200" }, statusCode: STATUS_CODE.unset },
  ] },
];

before(async () => {
  store.add(batches);
  const route = jaegerQueryApi(store);
  const server: Server = createServer((req, res) => {
    void Promise.resolve(route(req, res, new URL(req.url!, "http://x"))).then((done) => { if (!done) res.writeHead(404).end(); });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => server.close(r)));
  ours = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (noJaeger || !("bin" in binaries)) return;
  const j = await startJaeger(binaries.bin);
  closers.push(() => j.stop());
  const r = await fetch(`http://127.0.0.1:${j.otlpHttp}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body: Buffer.from(encodeTraceRequest(batches, "test")) });
  assert.equal(r.status, 200, await r.text());
  await until("Jaeger has both traces", async () => ((await (await fetch(`${j.query}/api/traces?service=reviews.default&lookback=1h`)).json()) as { data: unknown[] | null }).data?.length === 2);
  jaeger = j;
});

async function get(base: string, path: string): Promise<{ status: number; body: { data: unknown; errors: Array<{ code: number; msg: string }> | null } }> {
  const r = await fetch(base + path);
  return { status: r.status, body: await r.json() as { data: unknown; errors: Array<{ code: number; msg: string }> | null } };
}

interface Span { traceID: string; spanID: string; operationName: string; references: Array<{ refType: string; spanID: string }>; startTime: number; duration: number; processID: string; tags: Array<{ key: string; value: unknown }> }
interface Trace { traceID: string; spans: Span[]; processes: Record<string, { serviceName: string }> }

/** What both must agree on: ids, names, parents, services, times and the tags we sent (Jaeger adds its own). */
function comparable(traces: Trace[]): unknown {
  return traces.map((t) => ({
    traceID: t.traceID,
    spans: t.spans.map((s) => ({
      spanID: s.spanID, operationName: s.operationName, service: t.processes[s.processID].serviceName,
      references: s.references.map((r) => `${r.refType}:${r.spanID}`), startTime: s.startTime, duration: s.duration,
      tags: Object.fromEntries(s.tags.filter((x) => ["http.status_code", "span.kind", "upstream_cluster"].includes(x.key)).map((x) => [x.key, x.value])),
    })).sort((a, b) => a.spanID.localeCompare(b.spanID)),
  })).sort((a, b) => a.traceID.localeCompare(b.traceID));
}

const QUERIES = [
  "/api/traces?service=reviews.default&lookback=1h",
  "/api/traces?service=productpage.default&lookback=1h&limit=10",
  "/api/traces?service=reviews.default&lookback=1h&tags=%7B%22http.status_code%22%3A%22503%22%7D",
  "/api/traces?service=reviews.default&lookback=1h&minDuration=10ms",
  "/api/traces?service=productpage.default&operation=reviews.default.svc.cluster.local%3A9080%2F*&lookback=1h",
];

test("services, operations and trace search answer as Jaeger's own query API does", { skip: noJaeger }, async () => {
  const j = jaeger!.query;
  for (const path of ["/api/services", "/api/services/reviews.default/operations", "/api/services/productpage.default/operations"]) {
    const [a, b] = [await get(ours, path), await get(j, path)];
    assert.equal(a.status, 200);
    // Jaeger lists itself once it traces its own work; only the mesh's services are compared.
    assert.deepEqual((a.body.data as string[]).sort(), (b.body.data as string[]).filter((s) => s !== "jaeger").sort(), path);
  }
  for (const path of QUERIES) {
    const [a, b] = [await get(ours, path), await get(j, path)];
    assert.equal(a.status, 200, path);
    assert.ok((b.body.data as Trace[]).length > 0, `Jaeger found something for ${path}`);
    assert.deepEqual(comparable(a.body.data as Trace[]), comparable(b.body.data as Trace[]), path);
  }
  // Durations bound one span of the service, not the trace: reviews' spans are all shorter than 30ms, its trace is not.
  const spanLevel = "/api/traces?service=reviews.default&lookback=1h&minDuration=30ms";
  assert.deepEqual([(await get(ours, spanLevel)).body.data, (await get(j, spanLevel)).body.data ?? []], [[], []]);
  const [a, b] = [await get(ours, `/api/traces/${TRACE_A}`), await get(j, `/api/traces/${TRACE_A}`)];
  assert.deepEqual(comparable(a.body.data as Trace[]), comparable(b.body.data as Trace[]));
  const [x, y] = [await get(ours, "/api/traces/0000000000000000000000000000abcd"), await get(j, "/api/traces/0000000000000000000000000000abcd")];
  assert.equal(x.status, 404);
  assert.equal(x.status, y.status);
});

test("the embedded API's own answers: operations with span kinds, short ids, lookback windows, refusals by name", async () => {
  const ops = await get(ours, "/api/operations?service=productpage.default");
  assert.deepEqual(ops.body.data, [
    { name: "productpage.default.svc.cluster.local:9080/productpage", spanKind: "server" },
    { name: "reviews.default.svc.cluster.local:9080/*", spanKind: "client" },
  ]);
  const old = await get(ours, `/api/traces?service=reviews.default&lookback=custom&start=1&end=${Date.now() * 1000 - 3_600_000_000}`);
  assert.deepEqual(old.body.data, [], "nothing in a window an hour ago");
  const bad = await get(ours, "/api/traces?service=reviews.default&tags=http.status_code=500");
  assert.equal(bad.status, 400);
  assert.match(bad.body.errors![0].msg, /^tags: .* is not JSON/);
  const unknown = await get(ours, "/api/traces?service=reviews.default&foo=1");
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.errors![0].msg, /^foo: not a parameter/);
  assert.equal((await get(ours, "/api/traces?lookback=1h")).status, 400, "service is required, as in Jaeger");
  const tag = await get(ours, "/api/traces?service=reviews.default&tag=http.status_code:200");
  assert.deepEqual((tag.body.data as Trace[]).map((t) => t.traceID), [TRACE_B]);
});
