// The embedded trace store and its OTLP/HTTP intake: protobuf and JSON batches over a real socket, Jaeger-style
// search, the span budget that bounds memory, and clear refusals of bodies that are not OTLP.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, test } from "node:test";
import { decodeTraceRequest, encodeTraceRequest, SPAN_KIND, STATUS_CODE, type OtlpSpan } from "../../src/xds/otlp-trace.js";
import { TraceStore } from "../../src/telemetry/traces/trace-store.js";
import { startOtlpIntake } from "../../src/telemetry/traces/otlp-intake.js";

const T0 = 1_764_000_000_000n * 1_000_000n;
const ms = (n: number) => BigInt(n) * 1_000_000n;

function span(traceId: string, spanId: string, parent: string, name: string, startMs: number, durMs: number, extra: Partial<OtlpSpan> = {}): OtlpSpan {
  return { traceId, spanId, parentSpanId: parent, name, kind: SPAN_KIND.server, startTimeUnixNano: T0 + ms(startMs), endTimeUnixNano: T0 + ms(startMs + durMs), attributes: {}, statusCode: STATUS_CODE.unset, ...extra };
}
const tid = (n: number) => n.toString(16).padStart(32, "0");
const sid = (n: number) => n.toString(16).padStart(16, "0");

let store: TraceStore;
let server: Server;
let url: string;
before(async () => {
  store = new TraceStore(50);
  server = await startOtlpIntake(store, "127.0.0.1", 0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
});
after(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));

const post = (body: Uint8Array | string, type: string) => fetch(url, { method: "POST", body, headers: { "content-type": type } });

test("protobuf and JSON batches are stored; search by service, operation, duration, tags and time; get by id", async () => {
  const pb = encodeTraceRequest([
    { resource: { "service.name": "productpage.default" }, spans: [span(tid(1), sid(1), "", "productpage:9080/*", 0, 40, { attributes: { "http.status_code": "200" } })] },
    { resource: { "service.name": "reviews.default" }, spans: [span(tid(1), sid(2), sid(1), "reviews:9080/*", 5, 20, { kind: SPAN_KIND.client })] },
  ], "test");
  const res = await post(pb, "application/x-protobuf");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/x-protobuf");
  const json = { resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "ratings.default" } }] }, scopeSpans: [{ spans: [
    { traceId: tid(2), spanId: sid(3), name: "ratings:9080/*", kind: 2, startTimeUnixNano: String(T0 + ms(100)), endTimeUnixNano: String(T0 + ms(102)), attributes: [{ key: "http.status_code", value: { stringValue: "500" } }, { key: "error", value: { boolValue: true } }], status: { code: 2 } },
  ] }] }] };
  assert.equal((await post(JSON.stringify(json), "application/json")).status, 200);

  const t1 = store.get(tid(1))!;
  assert.deepEqual(t1.spans.map((s) => [s.service, s.parentSpanId]), [["productpage.default", ""], ["reviews.default", sid(1)]]);
  assert.equal(t1.spans[1].kind, "client");
  assert.equal(t1.spans[0].durationMs, 40);
  const ids = (q: Parameters<TraceStore["search"]>[0]) => store.search(q).map((t) => t.traceId);
  assert.deepEqual(ids({}), [tid(2), tid(1)], "newest first");
  assert.deepEqual(ids({ service: "reviews.default" }), [tid(1)]);
  assert.deepEqual(ids({ service: "productpage.default", operation: "productpage:9080/*" }), [tid(1)]);
  assert.deepEqual(ids({ service: "reviews.default", operation: "productpage:9080/*" }), [], "operation must be the service's own");
  assert.deepEqual(ids({ minDurationMs: 10 }), [tid(1)]);
  assert.deepEqual(ids({ tags: { "http.status_code": "500" } }), [tid(2)]);
  assert.deepEqual(ids({ start: Number(T0 / 1_000_000n) + 50 }), [tid(2)]);
  const summary = store.search({ service: "ratings.default" })[0];
  assert.equal(summary.errors, 1);
  assert.equal(summary.rootService, "ratings.default");
  assert.deepEqual(store.services(), ["productpage.default", "ratings.default", "reviews.default"]);
  assert.deepEqual(store.operations("reviews.default"), ["reviews:9080/*"]);
});

test("what is not OTLP is refused with the reason, and nothing is stored", async () => {
  const before = store.size.spans;
  const garbage = await post(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), "application/x-protobuf");
  assert.equal(garbage.status, 400);
  assert.match(((await garbage.json()) as { message: string }).message, /cannot read the OTLP protobuf body/);
  const badId = await post(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "abc", spanId: sid(1) }] }] }] }), "application/json");
  assert.equal(badId.status, 400);
  assert.match(((await badId.json()) as { message: string }).message, /traceId must be 16 bytes/);
  assert.equal((await post("{", "application/json")).status, 400);
  const type = await post("x", "text/plain");
  assert.equal(type.status, 415);
  assert.match(((await type.json()) as { message: string }).message, /application\/x-protobuf or application\/json/);
  assert.equal((await fetch(url.replace("/v1/traces", "/v1/metrics"), { method: "POST" })).status, 404);
  assert.equal(store.size.spans, before);
});

test("the store keeps at most its span budget, dropping whole traces oldest first", () => {
  const small = new TraceStore(100);
  for (let i = 0; i < 1000; i++) small.add([{ resource: { "service.name": "s" }, spans: [span(tid(i + 1), sid(1), "", "op", i, 1), span(tid(i + 1), sid(2), sid(1), "op", i, 1)] }]);
  assert.ok(small.size.spans <= 100, `${small.size.spans} spans kept`);
  assert.equal(small.size.traces, 50);
  assert.ok(small.get(tid(1000)), "the newest trace is kept");
  assert.equal(small.get(tid(1)), undefined, "the oldest is gone");
});

test("OTLP protobuf written by the exporter decodes to the same spans: ids, times, status and every attribute type", () => {
  const spans: OtlpSpan[] = Array.from({ length: 64 }, (_, i) => ({
    traceId: "0af7651916cd43dd8448eb211c80319c", spanId: (i + 1).toString(16).padStart(16, "0"), parentSpanId: i % 2 ? "00f067aa0ba902b7" : "",
    traceState: i % 3 ? undefined : "vendor=1", name: `op-${i}`, kind: i % 2 ? SPAN_KIND.client : SPAN_KIND.server,
    startTimeUnixNano: 1_764_000_000_000_000_000n + BigInt(i), endTimeUnixNano: 1_764_000_000_250_000_000n + BigInt(i), statusCode: i % 2 ? STATUS_CODE.error : STATUS_CODE.unset,
    attributes: { "http.method": "GET", "http.status_code": 200 + i, "retry.ratio": 0.25, "sampled": i % 2 === 0, "offset": -i - 1, "empty": "" },
  }));
  const [batch] = decodeTraceRequest(encodeTraceRequest([{ resource: { "service.name": "reviews.default", "pid": 7 }, spans }], "trellis-proxy"));
  assert.deepEqual(batch.resource, { "service.name": "reviews.default", pid: 7 });
  assert.equal(batch.spans.length, spans.length);
  batch.spans.forEach((s, i) => {
    const want = spans[i];
    assert.deepEqual({ ...s, traceState: s.traceState || undefined }, { ...want, traceState: want.traceState || undefined });
  });
});
