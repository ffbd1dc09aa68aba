// The verified-token cache: least recently used evicted first, emptied when the key set changes, and what it holds
// still goes through the time checks.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { VerifyKey } from "./jwks.js";
import { checkTimes, type VerifyPolicy } from "./jwt-verify.js";
import { TokenCache } from "./token-cache.js";

const verified = (exp: number) => ({ ok: true as const, payload: { exp }, payloadB64: "e30", header: {} });
const keys: VerifyKey[] = [];

test("least recently used goes first", () => {
  const c = new TokenCache(2);
  c.get("a", keys);
  c.set("a", verified(1));
  c.set("b", verified(2));
  assert.ok(c.get("a", keys), "a used again");
  c.set("c", verified(3));
  assert.equal(c.get("b", keys), undefined, "b was the least recently used");
  assert.ok(c.get("a", keys) && c.get("c", keys));
});

test("a new key set empties the cache", () => {
  const c = new TokenCache(10);
  c.get("a", keys);
  c.set("a", verified(1));
  assert.equal(c.get("a", []), undefined);
});

test("a cached token is still held to its exp", () => {
  const policy: VerifyPolicy = { audiences: [], clockSkewSeconds: 0, requireExpiration: false, keys };
  const v = verified(1000);
  assert.equal(checkTimes(v, policy, 999).ok, true);
  assert.deepEqual(checkTimes(v, policy, 1001), { ok: false, reason: "Jwt is expired" });
});
