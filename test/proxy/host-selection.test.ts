// Envoy's priority load and locality effective weights, checked against the tables in Envoy's load balancing docs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newEndpoint } from "../../src/proxy/upstream/endpoint.js";
import { chooseSet, computeState, type LocalityGroup } from "../../src/proxy/upstream/host-selection.js";
import { createLoadBalancer, hash32 } from "../../src/proxy/upstream/load-balancer.js";

let nextPort = 1;
/** A locality of `total` hosts of which `healthy` are usable (the rest fail EDS health). */
function group(priority: number, locality: string, total: number, healthy: number, weight = 0): LocalityGroup {
  return { priority, locality, weight, hosts: Array.from({ length: total }, (_, i) => newEndpoint("127.0.0.1", nextPort++, { edsHealthy: i < healthy, priority, locality })) };
}

const opts = { overprovisioningFactor: 140, panicThreshold: 50, localityWeighted: false, hashed: false, newLb: () => createLoadBalancer("ROUND_ROBIN") };

function loads(cumulative: number[]): number[] {
  return cumulative.map((c, i) => c - (i > 0 ? cumulative[i - 1] : 0));
}

test("priority load spills from a degraded P0 to P1 as Envoy's table shows (factor 1.4)", () => {
  // Envoy's priority_levels doc: P0 healthy % -> traffic to P0 / P1 (P1 fully healthy).
  const table: Array<[number, number, number]> = [[100, 100, 0], [72, 100, 0], [71, 99, 1], [50, 70, 30], [25, 35, 65], [0, 0, 100]];
  for (const [healthyPct, p0, p1] of table) {
    const state = computeState([group(0, "a", 100, healthyPct), group(1, "b", 100, 100)], opts, Date.now());
    assert.deepEqual(loads(state.cumulativeLoad), [p0, p1], `P0 ${healthyPct}% healthy`);
    assert.deepEqual(state.panic, [false, false], "the total is 100: no priority panics");
  }
});

test("when the priorities together are short, a priority below the panic threshold balances over all its hosts", () => {
  const state = computeState([group(0, "a", 10, 4), group(1, "b", 10, 2)], opts, Date.now());
  // health 56 + 28 = 84 < 100: loads are 56*100/84 = 66 and 28*100/84 = 33, the rounding percent to P0.
  assert.deepEqual(loads(state.cumulativeLoad), [67, 33]);
  assert.deepEqual(state.panic, [true, true]);
  assert.equal(state.sets[0]!.hosts.length, 10, "panic: all of P0's hosts");
  const none = computeState([group(0, "a", 3, 0), group(1, "b", 1, 0)], opts, Date.now());
  assert.deepEqual(loads(none.cumulativeLoad), [75, 25], "nothing healthy: load follows host counts");
});

test("locality effective weights follow Envoy's table (X weight 1, Y weight 2)", () => {
  const table: Array<[number, number]> = [[100, 33], [70, 33], [50, 26], [25, 15], [0, 0]];
  for (const [healthyPct, xShare] of table) {
    const x = group(0, "x", 100, healthyPct, 1);
    const y = group(0, "y", 100, 100, 2);
    const state = computeState([x, y], { ...opts, localityWeighted: true }, Date.now());
    let toX = 0;
    for (let i = 0; i < 1000; i++) if (chooseSet(state, undefined)!.set.hosts[0].locality === "x") toX++;
    assert.ok(Math.abs(toX / 10 - xShare) <= 1, `X ${healthyPct}% healthy: ${toX / 10}% to X, want ${xShare}%`);
  }
});

test("without locality_weighted_lb_config, locality weights are ignored", () => {
  const state = computeState([group(0, "x", 1, 1, 90), group(0, "y", 1, 1, 10)], opts, Date.now());
  assert.equal(state.localities[0], undefined);
  assert.equal(state.sets[0]!.hosts.length, 2);
});

test("an ejection's end is when the state must be recomputed", () => {
  const now = Date.now();
  const g = group(0, "a", 2, 2);
  g.hosts[0].ejectedUntil = now + 5000;
  const state = computeState([g], opts, now);
  assert.equal(state.validUntil, now + 5000);
  assert.equal(state.sets[0]!.hosts.length, 1);
});

test("ring hash: a request's hash keeps its locality, and hashes spread over localities by weight", () => {
  const state = computeState([group(0, "x", 2, 2, 80), group(0, "y", 2, 2, 20)], { ...opts, localityWeighted: true, hashed: true, newLb: () => createLoadBalancer("RING_HASH") }, Date.now());
  let toX = 0;
  for (let i = 0; i < 2000; i++) {
    const h = hash32(`user-${i}`);
    const first = chooseSet(state, h)!.set;
    assert.equal(chooseSet(state, h)!.set, first, "the same hash, the same locality");
    if (first.hosts[0].locality === "x") toX++;
  }
  assert.ok(Math.abs(toX / 20 - 80) <= 5, `${toX / 20}% of keys to x, want about 80%`);
});
