// The router's timers: a one-shot timer fires once and not after clear; 0 ms is no timer; deadlines and per-try
// values as the route sets them. Waits are bounded and generous (the machine is shared), never timed assertions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deadlineOf, OneShotTimer, perTryTimeoutMs } from "./timeouts.js";

test("a one-shot timer fires once, and is no longer armed after", async () => {
  let fired = 0;
  let timer!: OneShotTimer;
  await new Promise<void>((resolve) => {
    timer = new OneShotTimer(1, () => {
      fired++;
      resolve();
    });
    assert.equal(timer.armed, true);
  });
  assert.equal(fired, 1);
  assert.equal(timer.armed, false);
  timer.clear();
});

test("a cleared timer never fires; 0 ms arms nothing", async () => {
  let fired = false;
  const t = new OneShotTimer(1, () => (fired = true));
  t.clear();
  t.clear();
  assert.equal(t.armed, false);
  const none = new OneShotTimer(0, () => (fired = true));
  assert.equal(none.armed, false);
  // A later timer of the same duration runs after the cleared one would have: if that one were live, it fired first.
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fired, false);
});

test("deadline and per-try values", () => {
  assert.equal(deadlineOf(0, 1000), 0);
  assert.equal(deadlineOf(15000, 1000), 16000);
  assert.equal(perTryTimeoutMs(undefined), 0);
  assert.equal(perTryTimeoutMs({ perTryTimeoutMs: 0 }), 0);
  assert.equal(perTryTimeoutMs({ perTryTimeoutMs: 250 }), 250);
});
