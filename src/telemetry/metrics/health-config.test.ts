// Kiali-style health tolerances: parsing with errors that name the field, the first matching rule deciding, codes
// and protocols counted as the tolerance says, and meshHealth using them (404s tolerated for one service only).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHealthConfig, toleranceStatus } from "./health-config.js";
import { meshHealth } from "./health.js";
import type { Labels, Sample } from "./promql-eval.js";
import type { QueryBackend } from "./query-backend.js";

const CONFIG = `
rate:
- namespace: shop
  kind: service
  name: search
  tolerance:
  - {code: "^404$", protocol: http, direction: inbound, degraded: 30, failure: 60}
  - {code: "^5\\\\d\\\\d$", protocol: http, degraded: 0.1, failure: 20}
- tolerance:
  - {code: "^(4|5)\\\\d\\\\d$", protocol: http, degraded: 1, failure: 10}
`;

test("errors name the field to fix", () => {
  const bad = (text: string, re: RegExp) => assert.throws(() => parseHealthConfig(text, "h.yaml"), re);
  bad("rate: 3", /rate: a list/);
  bad("rate: [{tolerance: []}]", /rate\[0\]\.tolerance: a non-empty list/);
  bad("rate: [{tolerance: [{protocol: http}]}]", /rate\[0\]\.tolerance\[0\]\.code: required/);
  bad("rate: [{tolerance: [{code: '(', degraded: 1}]}]", /rate\[0\]\.tolerance\[0\]\.code: "\(" is not a regular expression/);
  bad("rate: [{tolerance: [{code: x, degraded: 150}]}]", /degraded: must be a percentage/);
  bad("rate: [{tolerance: [{code: x, degraded: 20, failure: 10}]}]", /failure \(10\) is below degraded \(20\)/);
  bad("rate: [{names: x, tolerance: [{code: x}]}]", /rate\[0\]\.names: not a field/);
  assert.equal(parseHealthConfig(`health_config:${CONFIG.replace(/\n/g, "\n  ")}`, "cr.yaml").config.rate.length, 2, "Kiali CR's health_config block is read as is");
});

test("the first matching rule decides; its worst tolerance wins", () => {
  const { compiled } = parseHealthConfig(CONFIG, "h.yaml");
  const traffic = (codes: Record<string, number>) => ({ rps: Object.values(codes).reduce((a, b) => a + b, 0), byCode: new Map(Object.entries(codes)) });
  const search = { kind: "service", namespace: "shop", name: "search" };
  assert.equal(toleranceStatus(compiled, search, "inbound", traffic({ "http 200": 80, "http 404": 20 }))!.status, "Healthy", "20 % 404s tolerated for search");
  assert.equal(toleranceStatus(compiled, search, "inbound", traffic({ "http 200": 60, "http 404": 40 }))!.status, "Degraded");
  assert.equal(toleranceStatus(compiled, search, "inbound", traffic({ "http 200": 99, "http 503": 1 }))!.status, "Degraded", "a 5xx still counts");
  const cart = { kind: "service", namespace: "shop", name: "cart" };
  assert.equal(toleranceStatus(compiled, cart, "inbound", traffic({ "http 200": 80, "http 404": 20 }))!.status, "Failure", "the catch-all counts 404s for others");
  assert.equal(toleranceStatus(compiled, cart, "inbound", traffic({}))!.status, "NA");
});

function backend(series: Array<[Labels, number]>): QueryBackend {
  const samples: Sample[] = series.map(([labels, value]) => ({ labels: { request_protocol: "http", ...labels }, value }));
  return { instant: async (q) => (q.includes('reporter="source"') ? samples : []), range: async () => [] };
}

test("meshHealth applies the configured tolerances, and the defaults without them", async () => {
  const caller = { source_workload_namespace: "shop", source_workload: "web", source_app: "web" };
  const search = { destination_service_namespace: "shop", destination_service_name: "search", destination_workload_namespace: "shop", destination_workload: "search-v1", destination_app: "search" };
  const b = backend([[{ ...caller, ...search, response_code: "200" }, 8], [{ ...caller, ...search, response_code: "404" }, 2]]);
  const now = Date.now();
  const configured = await meshHealth(b, { window: "1m", namespaces: [], now, config: parseHealthConfig(CONFIG, "h.yaml") });
  const svc = configured.find((e) => e.kind === "service" && e.name === "search")!;
  assert.equal(svc.status, "Healthy");
  assert.equal(configured.find((e) => e.kind === "workload" && e.name === "search-v1")!.status, "Failure", "the catch-all rule counts 404s for the workload");
  const defaults = await meshHealth(b, { window: "1m", namespaces: [], now });
  assert.equal(defaults.find((e) => e.kind === "service" && e.name === "search")!.status, "Healthy", "by default only 5xx and no response count");
});
