// Maglev as tables: each host's share of the key space follows its weight, a key keeps its host across instances,
// removing a host moves (almost) only its keys, skipped hosts are never returned.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Endpoint, newEndpoint } from "../endpoint.js";
import { Maglev } from "./maglev.js";

const hosts = (n: number, weights: number[] = []) => Array.from({ length: n }, (_, i) => newEndpoint(`10.0.0.${i + 1}`, 80, { weight: weights[i] ?? 1 }));

/** Each host's share of `keys` hashes spread over the 32-bit space. */
function shares(lb: Maglev, set: Endpoint[], keys = 20_000): Map<string, number> {
  const count = new Map<string, number>();
  for (let i = 0; i < keys; i++) {
    const e = lb.pick(set, Math.floor((i * 0xffffffff) / keys))!;
    count.set(e.key, (count.get(e.key) ?? 0) + 1 / keys);
  }
  return count;
}

test("shares follow weights (table size 65537 and a small prime)", () => {
  const table: Array<[number, number[], number]> = [
    [65537, [1, 1, 1, 1], 0.02],
    [65537, [1, 3], 0.02],
    [65537, [1, 2, 5], 0.02],
    [251, [1, 1, 1], 0.05],
  ];
  for (const [size, weights, tolerance] of table) {
    const set = hosts(weights.length, weights);
    const total = weights.reduce((a, b) => a + b, 0);
    const got = shares(new Maglev(size), set);
    set.forEach((h, i) => assert.ok(Math.abs((got.get(h.key) ?? 0) - weights[i] / total) < tolerance, `size ${size} weights ${weights}: ${h.key} got ${got.get(h.key)}, want ${weights[i] / total}`));
  }
});

test("a key maps to the same host in every instance (every proxy agrees)", () => {
  const set = hosts(5);
  const [a, b] = [new Maglev(), new Maglev()];
  for (const key of [0, 1, 12345, 0x7fffffff, 0xfffffffe]) assert.equal(a.pick(set, key), b.pick([...set], key), `key ${key}`);
});

test("removing one of five hosts moves its own keys and few others", () => {
  const set = hosts(5);
  const lb = new Maglev();
  const before = Array.from({ length: 5000 }, (_, i) => lb.pick(set, i * 858_993)!.key);
  const fewer = set.slice(0, 4);
  const after = Array.from({ length: 5000 }, (_, i) => lb.pick(fewer, i * 858_993)!.key);
  let stayed = 0, kept = 0;
  before.forEach((k, i) => {
    if (k === set[4].key) return;
    kept++;
    if (after[i] === k) stayed++;
  });
  assert.ok(stayed / kept > 0.9, `only ${(100 * stayed / kept).toFixed(1)}% of the remaining hosts' keys stayed`);
  assert.ok(!after.includes(set[4].key));
});

test("skip: a skipped host is never returned; nothing allowed, nothing picked; no hosts, no host", () => {
  const set = hosts(3);
  const lb = new Maglev(251);
  for (let key = 0; key < 500; key++) assert.notEqual(lb.pick(set, key * 7919, (e) => e === set[1]), set[1]);
  assert.equal(lb.pick(set, 1, () => true), undefined);
  assert.equal(lb.pick([], 1), undefined);
  assert.ok(set.includes(lb.pick(set, undefined)!), "no hash: a random key");
});
