// Round robin, least request, random and ring hash as tables, and the policy registry's refusal of unknown names.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newEndpoint } from "../endpoint.js";
import { createLoadBalancer, registeredLbPolicies } from "../load-balancer.js";
import { LeastRequest } from "./least-request.js";
import { RandomLb } from "./random.js";
import { RingHash } from "./ring-hash.js";
import { RoundRobin } from "./round-robin.js";

const hosts = (weights: number[]) => weights.map((w, i) => newEndpoint(`10.0.0.${i + 1}`, 80, { weight: w }));

test("round robin: equal weights in turn; weights 5:1:1 as nginx's smooth sequence; skip passes over", () => {
  const eq = hosts([1, 1, 1]);
  const rr = new RoundRobin();
  assert.deepEqual(Array.from({ length: 6 }, () => rr.pick(eq, undefined)!.key), ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
  const w = hosts([5, 1, 1]);
  const smooth = new RoundRobin();
  // nginx's documented sequence for weights 5, 1, 1: a a b a c a a.
  assert.deepEqual(Array.from({ length: 7 }, () => smooth.pick(w, undefined)!.key.slice(7, 8)), ["1", "1", "2", "1", "3", "1", "1"]);
  assert.equal(new RoundRobin().pick(eq, undefined, (e) => e === eq[0]), eq[1]);
});

test("least request: of the drawn hosts, the one with fewer active requests per weight", () => {
  const [a, b] = hosts([1, 1]);
  a.activeRequests = 5;
  const draws = [0.0, 0.9];
  let i = 0;
  const lb = new LeastRequest(2, () => draws[i++ % 2]);
  assert.equal(lb.pick([a, b], undefined), b);
  const [c, d] = hosts([1, 10]);
  c.activeRequests = 1;
  d.activeRequests = 5;
  i = 0;
  assert.equal(new LeastRequest(2, () => draws[i++ % 2]).pick([c, d], undefined), d, "(5+1)/10 beats (1+1)/1");
  assert.equal(new LeastRequest().pick([a, b], undefined, (e) => e === b), a);
});

test("random: the draw indexes the hosts; a skipped draw moves to the next", () => {
  const set = hosts([1, 1, 1, 1]);
  assert.equal(new RandomLb(() => 0.5).pick(set, undefined), set[2]);
  assert.equal(new RandomLb(() => 0.5).pick(set, undefined, (e) => e === set[2]), set[3]);
  assert.equal(new RandomLb().pick([], undefined), undefined);
});

test("ring hash: a key keeps its host, weights set the shares, skip goes clockwise", () => {
  const set = hosts([1, 3]);
  const ring = new RingHash(1024);
  assert.equal(ring.pick(set, 42), new RingHash(1024).pick([...set], 42));
  let heavy = 0;
  for (let i = 0; i < 10_000; i++) if (ring.pick(set, Math.floor((i * 0xffffffff) / 10_000)) === set[1]) heavy++;
  assert.ok(Math.abs(heavy / 10_000 - 0.75) < 0.05, `weight 3 of 4 got ${heavy / 100}%`);
  for (let k = 0; k < 200; k++) assert.equal(ring.pick(set, k * 21_474_836, (e) => e === set[0]), set[1]);
});

test("the registry: every built-in policy by its Envoy name; an unknown one refused naming those", () => {
  assert.deepEqual(registeredLbPolicies().sort(), ["LEAST_REQUEST", "MAGLEV", "RANDOM", "RING_HASH", "ROUND_ROBIN"]);
  for (const p of registeredLbPolicies()) assert.ok(createLoadBalancer(p).pick(hosts([1]), 1));
  assert.throws(() => createLoadBalancer("CLUSTER_PROVIDED"), /lb_policy CLUSTER_PROVIDED is not supported \(.*MAGLEV.*\)/);
});
