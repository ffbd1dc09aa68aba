// Shadowing: Envoy's "-shadow" authority, and which mirror clusters a request goes to (named, by header, sampled).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { StreamContext } from "../stream-context.js";
import type { Forward } from "./cluster-choice.js";
import { mirrorTargets, shadowOf } from "./shadowing.js";

test("the shadow authority appends -shadow to the host, before any port", () => {
  const table: Array<[string, string]> = [
    ["reviews", "reviews-shadow"],
    ["reviews:9080", "reviews-shadow:9080"],
    ["reviews.default.svc.cluster.local:9080", "reviews.default.svc.cluster.local-shadow:9080"],
    ["[::1]:9080", "[::1]-shadow:9080"],
    ["[::1]", "[::1]-shadow"],
  ];
  for (const [authority, want] of table) assert.equal(shadowOf(authority), want, authority);
});

test("mirror targets: the named cluster or the header's, each only when its fraction's draw says so", () => {
  const headers: Record<string, string> = { "x-mirror": "from-header" };
  const ctx = { view: { header: (n: string) => headers[n] } } as unknown as StreamContext;
  const action = { mirrors: [
    { cluster: "always", fraction: () => 1, keepAuthority: false },
    { cluster: "never", fraction: () => 0, keepAuthority: false },
    { cluster: "", clusterHeader: "x-mirror", fraction: () => 1, keepAuthority: true },
    { cluster: "", clusterHeader: "x-absent", fraction: () => 1, keepAuthority: false },
  ] } as unknown as Forward;
  const draws: number[] = [];
  const targets = mirrorTargets(action, ctx, (f) => (draws.push(f), f >= 1));
  assert.deepEqual(targets, [{ cluster: "always", keepAuthority: false }, { cluster: "from-header", keepAuthority: true }]);
  assert.deepEqual(draws, [1, 0, 1], "no draw for a header that is absent (no header, no mirror)");
});
