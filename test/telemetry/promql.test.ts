// The embedded store's PromQL against hand-computed answers: Prometheus' rate() extrapolation and counter resets,
// aggregation, histogram_quantile, comparisons and vector matching; clear errors for what is not supported; memory
// bounded over hours of simulated scrapes (an injected clock, not wall time).
import assert from "node:assert/strict";
import { test } from "node:test";
import { instantQuery, rangeQuery } from "../../src/telemetry/metrics/promql-eval.js";
import { parsePromQL } from "../../src/telemetry/metrics/promql-parse.js";
import { SeriesStore } from "../../src/telemetry/metrics/series-store.js";
import { Scraper } from "../../src/telemetry/metrics/scraper.js";
import { parseExposition } from "../../src/telemetry/metrics/exposition.js";

const T = 1_764_000_000_000;
const vec = (store: SeriesStore, q: string, t = T + 60_000) => {
  const r = instantQuery(store, q, t);
  assert.equal(r.resultType, "vector");
  return r.resultType === "vector" ? r.result : [];
};

function counters(): SeriesStore {
  const s = new SeriesStore();
  // Two series scraped every 15 s for a minute: 10 req/s and 2 req/s; the second is reset to 0 halfway.
  for (let i = 0; i <= 4; i++) {
    const t = T + i * 15_000;
    s.append("istio_requests_total", { reporter: "destination", destination_app: "reviews", response_code: "200" }, t, 1000 + i * 150);
    s.append("istio_requests_total", { reporter: "destination", destination_app: "reviews", response_code: "500" }, t, i < 2 ? 100 + i * 30 : (i - 2) * 30);
    s.append("istio_requests_total", { reporter: "source", destination_app: "ratings", response_code: "200" }, t, i * 15);
  }
  return s;
}

test("rate() over a window: Prometheus' extrapolation, counter resets handled", () => {
  const s = counters();
  const r = vec(s, 'rate(istio_requests_total{reporter="destination"}[1m])');
  assert.equal(r.length, 2);
  const ok = r.find((x) => x.labels.response_code === "200")!;
  const err = r.find((x) => x.labels.response_code === "500")!;
  assert.equal(ok.labels.__name__, undefined, "rate drops the metric name");
  // The window (T, T+60s] holds the samples at 15..60 s: 450 requests over 45 s, extrapolated by the 15 s gap to
  // the window's start (under 1.1 intervals): 450 * 60/45 = 600 requests, 10 req/s.
  assert.ok(Math.abs(ok.value - 10) < 1e-9, String(ok.value));
  // 130 -> 0 (reset) -> 30 -> 60: 60 requests counted across the reset over 45 s, extrapolated to 60 s: 80 / 60 s.
  assert.ok(Math.abs(err.value - 80 / 60) < 1e-9, `a reset does not go negative: ${err.value}`);
  assert.ok(Math.abs(vec(s, 'increase(istio_requests_total{response_code="200",reporter="destination"}[1m])')[0].value - 600) < 1e-9);
  assert.equal(vec(s, 'irate(istio_requests_total{response_code="200",reporter="destination"}[1m])')[0].value, 10);
});

test("sum by, without, comparisons and vector division give Kiali's error ratio", () => {
  const s = counters();
  const byApp = vec(s, "sum(rate(istio_requests_total[1m])) by (destination_app)");
  assert.deepEqual(byApp.map((x) => x.labels).sort((a, b) => a.destination_app.localeCompare(b.destination_app)), [{ destination_app: "ratings" }, { destination_app: "reviews" }]);
  assert.deepEqual(vec(s, 'sum without (response_code, reporter) (rate(istio_requests_total{destination_app="reviews"}[1m]))').map((x) => x.labels), [{ destination_app: "reviews" }]);
  const ratio = vec(s, 'sum(rate(istio_requests_total{response_code=~"5.."}[1m])) by (destination_app) / sum(rate(istio_requests_total[1m])) by (destination_app)');
  assert.equal(ratio.length, 1, "ratings has no 5xx series, so no match");
  assert.ok(ratio[0].value > 0.1 && ratio[0].value < 0.25);
  assert.equal(vec(s, "sum(rate(istio_requests_total[1m])) by (destination_app) > 5").length, 1);
  assert.equal(vec(s, "sum(rate(istio_requests_total[1m])) by (destination_app) > bool 5").length, 2);
  assert.equal(vec(s, 'count(istio_requests_total{reporter!="source"})')[0].value, 2);
  const scalar = instantQuery(s, "2 * 3 + 1", T);
  assert.deepEqual(scalar, { resultType: "scalar", value: 7 });
});

test("histogram_quantile interpolates inside buckets, per group, as Prometheus does", () => {
  const s = new SeriesStore();
  const le = ["0.5", "1", "5", "10", "+Inf"];
  const counts = [[0, 0, 0, 0, 0], [10, 20, 90, 100, 100]];
  counts.forEach((c, i) => le.forEach((l, j) => s.append("istio_request_duration_milliseconds_bucket", { le: l, destination_app: "reviews" }, T + i * 60_000, c[j])));
  const q = (p: number) => vec(s, `histogram_quantile(${p}, sum(rate(istio_request_duration_milliseconds_bucket[2m])) by (le, destination_app))`, T + 60_000)[0];
  assert.deepEqual(q(0.5).labels, { destination_app: "reviews" });
  // rank 50 of 100 falls in (1, 5] holding 70 (from 20 to 90): 1 + 4 * 30/70.
  assert.ok(Math.abs(q(0.5).value - (1 + 4 * 30 / 70)) < 1e-9, String(q(0.5).value));
  assert.ok(Math.abs(q(0.95).value - 7.5) < 1e-9, String(q(0.95).value));
});

test("query_range evaluates at every step", () => {
  const s = counters();
  const r = rangeQuery(s, 'sum(rate(istio_requests_total{reporter="destination"}[30s]))', T + 30_000, T + 60_000, 15_000);
  assert.equal(r.length, 1);
  assert.deepEqual(r[0].points.map(([t]) => t), [T + 30_000, T + 45_000, T + 60_000]);
});

test("what is not supported or not PromQL is refused with the place and the reason", () => {
  const bad: Array<[string, RegExp]> = [
    ["rate(istio_requests_total)", /rate\(\) takes one range selector/],
    ["predict_linear(x[5m], 60)", /function "predict_linear" is not supported/],
    ['istio_requests_total{reporter="source"', /expected "," or "}"|at the end/],
    ["sum(x) by (a", /expected a label name|at the end/],
    ["x offset 5m", /offset is not supported/],
    ["x[5q]", /not a range duration/],
    ["a / on(x) group_left b", /many-to-one matching is not supported/],
    ["x and y", /set operator "and" is not supported/],
    ['{app=~"("}', /not a regular expression/],
  ];
  for (const [q, re] of bad) assert.throws(() => instantQuery(new SeriesStore(), q, T), re, q);
  assert.doesNotThrow(() => parsePromQL('sum(rate(istio_requests_total{reporter="destination",destination_service_namespace=~"default|bookinfo"}[5m])) by (source_workload,destination_workload,response_code) > 0'));
});

test("the exposition parser reads escapes, +Inf and reports bad lines without losing the good ones", () => {
  const { samples, errors } = parseExposition([
    "# TYPE istio_requests_total counter",
    'istio_requests_total{a="x\\"y",b="line\\nbreak"} 3',
    'istio_request_duration_milliseconds_bucket{le="+Inf"} 7 1764000000000',
    "broken{a=1} 2",
    "no_value",
    "up 1",
  ].join("\n"));
  assert.deepEqual(samples.map((s) => [s.name, s.labels, s.value]), [["istio_requests_total", { a: 'x"y', b: "line\nbreak" }, 3], ["istio_request_duration_milliseconds_bucket", { le: "+Inf" }, 7], ["up", {}, 1]]);
  assert.equal(errors.length, 2);
  assert.match(errors[0], /line 4: label at column/);
});

test("memory stays bounded: two hours of scrapes every 15 s with churning series keep at most an hour and the series cap", () => {
  let now = T;
  const store = new SeriesStore(3_600_000, 2000);
  const scraper = new Scraper(store, () => [], 15_000, () => {}, () => now);
  for (let i = 0; i < 480; i++) {
    now = T + i * 15_000;
    // 50 stable series plus pods that come and go every 10 minutes (new label values).
    const lines: string[] = [];
    for (let j = 0; j < 50; j++) lines.push(`istio_requests_total{source_workload="w${j}"} ${i * 10}`);
    for (let j = 0; j < 20; j++) lines.push(`istio_requests_total{source_workload="pod-${Math.floor(i / 40)}-${j}"} ${i}`);
    lines.push("envoy_cluster_upstream_rq_total 5"); // not Istio's: not kept
    scraper.ingest(lines.join("\n"), now);
    store.compact(now);
  }
  const { series, samples } = store.size;
  assert.ok(series <= 50 + 20 * 7, `series ${series}`);
  assert.ok(samples <= (50 + 20 * 7) * 241, `samples ${samples}`);
  assert.equal([...store.named("envoy_cluster_upstream_rq_total")].length, 0);
  const capped = new SeriesStore(3_600_000, 100);
  for (let j = 0; j < 500; j++) capped.append("istio_requests_total", { id: String(j) }, T, 1);
  assert.equal(capped.size.series, 100);
  assert.equal(capped.droppedSeries, 400);
});
