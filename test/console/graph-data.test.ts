// The graph from real PromQL over the embedded store: a fault the caller's sidecar injected shows on the service
// its route chose, with the right ratio, and a namespace with no traffic draws nothing at all.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IstioMetrics, LABELS, type LabelValues } from "../../src/proxy/stats/istio-metrics.js";
import { parseExposition } from "../../src/telemetry/metrics/exposition.js";
import { EmbeddedBackend } from "../../src/telemetry/metrics/query-backend.js";
import { SeriesStore } from "../../src/telemetry/metrics/series-store.js";
import { buildGraph } from "../../src/telemetry/metrics/mesh-graph.js";
import { edgeMetrics } from "../../src/telemetry/metrics/edge-metrics.js";

const blank = Object.fromEntries(LABELS.map((l) => [l, "unknown"])) as LabelValues;
const reviews = { source_workload: "reviews-v2", source_workload_namespace: "default", source_app: "reviews", source_version: "v2" };
const ratingsSvc = { destination_service: "ratings.default.svc.cluster.local", destination_service_name: "ratings", destination_service_namespace: "default" };
const ratingsWl = { destination_workload: "ratings-v1", destination_workload_namespace: "default", destination_app: "ratings", destination_version: "v1" };

/** Two scrapes a minute apart of a sidecar that sent `ok` good and `aborted` fault-aborted requests in between. */
function store(ok: number, aborted: number): { store: SeriesStore; now: number } {
  const s = new SeriesStore(3_600_000);
  const now = Date.now();
  const scrape = (m: IstioMetrics, t: number) => {
    for (const sample of parseExposition(m.prometheus()).samples) s.append(sample.name, sample.labels, t, sample.value);
  };
  const m = new IstioMetrics();
  const label = (extra: Partial<LabelValues>) => ({ ...blank, reporter: "source", request_protocol: "http", response_flags: "-", ...reviews, ...ratingsSvc, ...extra } as LabelValues);
  m.record(label({ ...ratingsWl, response_code: "200" }), 1, 0, 10);
  m.record(label({ response_code: "500", response_flags: "FI" }), 1, 0, 10);
  scrape(m, now - 60_000);
  for (let i = 0; i < ok; i++) m.record(label({ ...ratingsWl, response_code: "200" }), 1, 0, 10);
  for (let i = 0; i < aborted; i++) m.record(label({ response_code: "500", response_flags: "FI" }), 1, 0, 10);
  scrape(m, now);
  return { store: s, now };
}

test("aborted calls land on the ratings service node with their ratio; every node is a workload, app, service or unknown", async () => {
  const { store: s, now } = store(30, 30);
  const g = await buildGraph(new EmbeddedBackend(s), { windowMs: 120_000, window: "2m", graphType: "versionedApp", namespaces: [], now });
  const svc = g.nodes.find((n) => n.id === "default/service/ratings");
  assert.ok(svc, g.nodes.map((n) => n.id).join());
  assert.ok(Math.abs(svc.traffic.inErrorRatio - 0.5) < 0.01, `ratio ${svc.traffic.inErrorRatio}`);
  const edge = g.edges.find((e) => e.id === "default/app/reviews/v2->default/service/ratings");
  assert.ok(edge && Math.abs(edge.errorRatio - 0.5) < 0.01);
  assert.equal(g.edges.find((e) => e.id === "default/service/ratings->default/app/ratings/v1")?.errorRatio, 0);
  for (const n of g.nodes) assert.ok(n.namespace === "default" && ["app", "service", "workload"].includes(n.nodeType), `stray node ${n.id} (${n.namespace})`);
});

test("a namespace without traffic draws no node and no edge", async () => {
  const { store: s, now } = store(10, 0);
  const g = await buildGraph(new EmbeddedBackend(s), { windowMs: 120_000, window: "2m", graphType: "versionedApp", namespaces: ["does-not-exist"], now });
  assert.deepEqual([g.nodes, g.edges], [[], []]);
});

test("idle edges: a pair whose counters stopped moving in the window is drawn only when asked, with no traffic", async () => {
  // Traffic before the first scrape, none after it: both scrapes in the window carry the same counter values.
  const { store: s, now } = store(0, 0);
  const g = await buildGraph(new EmbeddedBackend(s), { windowMs: 120_000, window: "2m", graphType: "versionedApp", namespaces: [], now });
  assert.equal(g.edges.length, 0, `no traffic in the window, no edge: ${g.edges.map((e) => e.id).join()}`);
  const idle = await buildGraph(new EmbeddedBackend(s), { windowMs: 120_000, window: "2m", graphType: "versionedApp", namespaces: [], now, idleEdges: true });
  const edge = idle.edges.find((e) => e.id === "default/app/reviews/v2->default/service/ratings");
  assert.ok(edge, idle.edges.map((e) => e.id).join());
  assert.equal(edge.rps, 0);
});

test("edge charts: an edge's requests and errors over time, named by the graph's node ids; bad ids refused by name", async () => {
  const { store: s, now } = store(30, 30);
  const b = new EmbeddedBackend(s);
  const m = await edgeMetrics(b, { source: "default/app/reviews/v2", target: "default/service/ratings", start: now - 60_000, end: now, stepMs: 30_000, rateWindow: "2m" });
  const last = m.requestRate.at(-1);
  assert.ok(last && last[1] > 0, JSON.stringify(m.requestRate));
  assert.ok(Math.abs((m.errorRatio.at(-1)?.[1] ?? 0) - 0.5) < 0.05, `half aborted: ${JSON.stringify(m.errorRatio)}`);
  const hop = await edgeMetrics(b, { source: "default/service/ratings", target: "default/app/ratings/v1", start: now - 60_000, end: now, stepMs: 30_000, rateWindow: "2m" });
  assert.equal(hop.errorRatio.at(-1)?.[1], 0, "what reached the workload did not fail");
  await assert.rejects(edgeMetrics(b, { source: "default/pod/x", target: "default/service/ratings", start: 0, end: now, stepMs: 30_000, rateWindow: "2m" }), /node type "pod"/);
});
