// Health from the callers' view: a fault abort the source sidecar answers counts against the service its route
// chose, a workload's outbound failures count against it, and callers without a sidecar are still seen.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Labels, Sample } from "./promql-eval.js";
import type { QueryBackend } from "./query-backend.js";
import { meshHealth } from "./health.js";

const reviews = { source_workload_namespace: "default", source_workload: "reviews-v2", source_app: "reviews" };
const ratingsSvc = { destination_service_namespace: "default", destination_service_name: "ratings" };
const ratingsWl = { destination_workload_namespace: "default", destination_workload: "ratings-v1", destination_app: "ratings" };
const unknownDst = { destination_workload_namespace: "unknown", destination_workload: "unknown", destination_app: "unknown" };

function backend(source: Array<[Labels, number]>, destination: Array<[Labels, number]>): QueryBackend & { queries: string[] } {
  const queries: string[] = [];
  const samples = (list: Array<[Labels, number]>): Sample[] => list.map(([labels, value]) => ({ labels: { request_protocol: "http", ...labels }, value }));
  return {
    queries,
    instant: async (q) => { queries.push(q); return samples(q.includes('reporter="source"') ? source : destination); },
    range: async () => [],
  };
}

test("half of ratings' calls aborted by the caller's sidecar: ratings fails, reviews' outbound fails, ratings' workload stays healthy", async () => {
  const b = backend(
    [[{ ...reviews, ...ratingsSvc, ...ratingsWl, response_code: "200" }, 1], [{ ...reviews, ...ratingsSvc, ...unknownDst, response_code: "500" }, 1]],
    [[{ ...reviews, ...ratingsSvc, ...ratingsWl, response_code: "200" }, 1]],
  );
  const h = await meshHealth(b, { window: "1m", namespaces: [], now: Date.now() });
  const of = (kind: string, name: string) => h.find((e) => e.kind === kind && e.name === name);
  assert.equal(of("service", "ratings")?.status, "Failure");
  assert.equal(of("service", "ratings")?.errorRatio, 0.5);
  assert.equal(of("service", "ratings")?.requestRate, 2);
  assert.equal(of("workload", "ratings-v1")?.status, "Healthy");
  assert.equal(of("workload", "reviews-v2")?.status, "Failure", "its outbound calls fail");
  assert.equal(of("workload", "reviews-v2")?.outbound?.errorRatio, 0.5);
  assert.equal(of("app", "reviews")?.status, "Failure");
  assert.equal(h.some((e) => e.name === "unknown" || e.namespace === "unknown"), false, "no entry for the unknown destination");
});

test("a caller without a sidecar is counted from the destination's report, once; a sidecar caller is not counted twice", async () => {
  const ingress = { source_workload_namespace: "unknown", source_workload: "unknown", source_app: "unknown" };
  const b = backend(
    [[{ ...reviews, ...ratingsSvc, ...ratingsWl, response_code: "200" }, 3]],
    [[{ ...reviews, ...ratingsSvc, ...ratingsWl, response_code: "200" }, 3], [{ ...ingress, ...ratingsSvc, ...ratingsWl, response_code: "503" }, 1]],
  );
  const h = await meshHealth(b, { window: "1m", namespaces: ["default"], now: Date.now() });
  const svc = h.find((e) => e.kind === "service" && e.name === "ratings")!;
  assert.equal(svc.requestRate, 4);
  assert.equal(svc.errorRatio, 0.25);
  assert.equal(svc.status, "Failure");
  assert.equal(h.find((e) => e.kind === "workload" && e.name === "reviews-v2")?.status, "Healthy");
});

test("the namespace filter keeps only that namespace's entities; no traffic means NA", async () => {
  const b = backend([[{ ...reviews, ...ratingsSvc, ...ratingsWl, response_code: "200" }, 0]], []);
  assert.deepEqual(await meshHealth(b, { window: "1m", namespaces: ["other"], now: Date.now() }), []);
});
