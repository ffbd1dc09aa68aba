// The router's timers: an armed timer fires once with its target and not after clear; 0 ms is no timer; deadlines and per-try
// values as the route sets them. Waits are bounded and generous (the machine is shared), never timed assertions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { armTimer, deadlineOf, perTryTimeoutMs } from "./timeouts.js";

test("an armed timer calls back with its target, once; a cleared one never; 0 ms arms nothing", async () => {
  const target = { fired: 0 };
  await new Promise<void>((resolve) => armTimer(1, (t) => { t.fired++; resolve(); }, target));
  assert.equal(target.fired, 1);
  const cleared = { fired: 0 };
  clearTimeout(armTimer(1, (t) => t.fired++, cleared));
  assert.equal(armTimer(0, (t) => t.fired++, cleared), undefined);
  // A later timer of a longer duration runs after the cleared one would have: had it been live, it fired first.
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(cleared.fired, 0);
});

test("deadline and per-try values", () => {
  assert.equal(deadlineOf(0, 1000), 0);
  assert.equal(deadlineOf(15000, 1000), 16000);
  assert.equal(perTryTimeoutMs(undefined), 0);
  assert.equal(perTryTimeoutMs({ perTryTimeoutMs: 0 }), 0);
  assert.equal(perTryTimeoutMs({ perTryTimeoutMs: 250 }), 250);
});
