// The propagation tracker as a table of events: which proxies a change affects, when each holds it, NACKs and
// disconnections, and the state and timings a change's view reports.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PropagationTracker } from "./propagation.js";

const change = (name: string) => ({ kind: "VirtualService", namespace: "default", name, op: "MODIFIED" as const, resourceVersion: name });

test("a change is held by the proxies whose snapshot it changed; the others are not waited for", () => {
  let now = 1000;
  const observed: number[] = [];
  const t = new PropagationTracker((s) => observed.push(s), () => now);
  const g1 = t.record(change("reviews"));
  assert.equal(t.get(g1)!.state, "PENDING");
  t.snapshotSet("a", g1, true);
  t.snapshotSet("b", g1, true);
  t.snapshotSet("c", g1, false);
  t.pushed();
  assert.deepEqual(t.get(g1)!.proxies, { affected: 2, held: 0, nacked: 0, disconnected: 0, waiting: 2 });
  now = 1040;
  t.held("a", g1);
  t.held("c", g1);
  now = 1100;
  t.held("b", g1);
  const v = t.get(g1)!;
  assert.equal(v.state, "DONE");
  assert.deepEqual(v.convergenceMs, { p50: 40, p99: 100, max: 100 });
  assert.deepEqual(observed, [0.04, 0.1]);
  assert.equal(t.find("VirtualService", "default", "reviews", "reviews")!.generation, g1);
});

test("a NACK and a disconnection end the wait and are named; a later push does not add proxies to an old change", () => {
  const t = new PropagationTracker();
  const g1 = t.record(change("a"));
  for (const n of ["ok", "bad", "gone", "silent"]) t.snapshotSet(n, g1, true);
  t.pushed();
  t.held("ok", g1);
  t.nacked("bad", "route main: no such cluster");
  t.disconnected("gone");
  const v = t.get(g1)!;
  assert.equal(v.state, "PROPAGATING");
  assert.deepEqual(v.waiting, ["silent"]);
  t.disconnected("silent");
  const done = t.get(g1)!;
  assert.equal(done.state, "FAILED");
  assert.deepEqual(done.nacked, [{ proxy: "bad", error: "route main: no such cluster" }]);
  assert.deepEqual(done.disconnected, ["gone", "silent"]);
  const g2 = t.record(change("b"));
  t.snapshotSet("late", g2, true);
  t.pushed();
  assert.equal(t.get(g1)!.proxies.affected, 4, "the new proxy is affected by g2 only");
  assert.equal(t.get(g2)!.proxies.affected, 1);
  // A proxy that NACKed and later ACKs a newer snapshot holds the change after all.
  t.held("bad", g2);
  assert.deepEqual(t.get(g1)!.nacked, []);
  assert.equal(t.get(g1)!.proxies.held, 2);
});

test("a write the control plane cannot translate fails at once, naming why", () => {
  const t = new PropagationTracker();
  const g = t.record({ kind: "HTTPRoute.gateway.networking.k8s.io", namespace: "web", name: "r", op: "ADDED", resourceVersion: "7" });
  t.skipped({ kind: "HTTPRoute", namespace: "web", name: "r", resourceVersion: "7", error: "backendRefs[0]: boom" });
  t.pushed();
  const v = t.get(g)!;
  assert.equal(v.state, "FAILED");
  assert.match(v.error!, /cannot translate it, so no proxy gets it: backendRefs\[0\]: boom/);
});

test("an unchanged rewrite debounced into the same push as a real change affects no proxy", () => {
  const t = new PropagationTracker(() => {}, () => 1000);
  const same = t.record({ ...change("ratings"), unchanged: true });
  const real = t.record(change("reviews"));
  t.snapshotSet("a", real, true);
  t.pushed();
  assert.equal(t.get(same)!.proxies.affected, 0);
  assert.equal(t.get(same)!.state, "DONE");
  assert.equal(t.get(real)!.proxies.affected, 1);
});
