// The debouncer folds bursts into pushes: a thousand changes at once are one push; changes that keep coming are
// pushed at most maxMs apart; a bad setting is refused by name. Timers are mocked, so nothing depends on the clock.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { Debouncer } from "./debouncer.js";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"] }));
afterEach(() => mock.timers.reset());

test("a burst of 1,000 changes is one push carrying all of them", () => {
  const pushes: number[] = [];
  const d = new Debouncer({ quietMs: 100, maxMs: 1000 }, (n) => pushes.push(n));
  for (let i = 0; i < 1000; i++) d.notify();
  mock.timers.tick(99);
  assert.deepEqual(pushes, [], "nothing before the quiet period has passed");
  mock.timers.tick(1);
  assert.deepEqual(pushes, [1000]);
  assert.deepEqual(d.stats, { pushes: 1, changes: 1000 });
});

test("changes that never pause are pushed every maxMs, none is lost", () => {
  const pushes: number[] = [];
  const d = new Debouncer({ quietMs: 100, maxMs: 1000 }, (n) => pushes.push(n));
  // One change every 50 ms for 5 s: never 100 ms of quiet.
  for (let i = 0; i < 100; i++) {
    d.notify();
    mock.timers.tick(50);
  }
  mock.timers.tick(100);
  assert.ok(pushes.length >= 5 && pushes.length <= 6, `pushes: ${pushes.join(", ")}`);
  assert.equal(pushes.reduce((a, b) => a + b, 0), 100);
});

test("flush pushes what waits now; cancel drops it", () => {
  const pushes: number[] = [];
  const d = new Debouncer({ quietMs: 100, maxMs: 1000 }, (n) => pushes.push(n));
  d.notify();
  d.flush();
  assert.deepEqual(pushes, [1]);
  d.notify();
  d.cancel();
  mock.timers.tick(2000);
  assert.deepEqual(pushes, [1]);
});

test("maxMs below quietMs is refused, naming both", () => {
  assert.throws(() => new Debouncer({ quietMs: 100, maxMs: 50 }, () => {}), /quietMs \(100\).*maxMs \(50\)/);
});
