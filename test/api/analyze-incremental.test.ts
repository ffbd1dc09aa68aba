// Analysis after a write re-validates what was written, not the whole store: the structural findings of resources
// already checked are reused by object (stores hand out the same object until it is written again), with the same
// findings as a first analysis, and a caller changing a returned finding cannot change the next analysis.
import assert from "node:assert/strict";
import { test } from "node:test";
import { analysisStats, analyze } from "../../src/api/analyze.js";
import type { IstioResource } from "../../src/api/resource.js";

const entry = (i: number, extra: Record<string, unknown> = {}): IstioResource => ({
  apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: `svc-${i}`, namespace: "bench" },
  spec: { hosts: [`svc-${i}.bench.svc.cluster.local`], resolution: "STATIC", ports: [{ number: 8080, name: "http", protocol: "HTTP" }], endpoints: [{ address: `127.3.0.${(i % 250) + 1}` }], ...extra },
});

test("a write to a store of 1,000 validates one resource, and finds what a fresh analysis finds", () => {
  // One broken entry among them, so there are findings to compare.
  const store = [...Array.from({ length: 999 }, (_, i) => entry(i)), entry(999, { resolution: "NOPE" })];
  const first = analyze(store);
  assert.ok(first.some((f) => f.resource?.name === "svc-999" && f.level === "Error"), JSON.stringify(first.slice(0, 3)));
  const before = analysisStats.validated;
  const written = entry(1000, { ports: [{ number: 8080, name: "http", protocol: "TCP" }] });
  const after = analyze([...store, written]);
  assert.equal(analysisStats.validated - before, 1, "only the written resource is validated again");
  const fresh = analyze([...store, written].map((r) => structuredClone(r)));
  assert.deepEqual(after, fresh, "the same findings as an analysis of fresh objects");
  first[0].message = "changed by a caller";
  assert.notEqual(analyze(store)[0].message, "changed by a caller");
});
