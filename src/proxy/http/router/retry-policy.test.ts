// The retry policy as tables: which outcomes retry_on covers, when another attempt is allowed, Envoy's back-off
// bounds, and when a request's last outcome earns the URX flag.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RetryConfig } from "../route-table.js";
import { backoffMs, exhausted, mayRetry, retriable } from "./retry-policy.js";
import type { ResponseBody, UpstreamOutcome } from "./upstream-outcome.js";

function policy(retryOn: string[], fields: Partial<RetryConfig> = {}): RetryConfig {
  return { retryOn: new Set(retryOn), numRetries: 2, perTryTimeoutMs: 0, retriableStatusCodes: new Set(), baseIntervalMs: 25, maxIntervalMs: 250, previousHosts: false, hostSelectionAttempts: 1, ...fields };
}

const body = { on: () => body, pause: () => body, resume: () => body } as ResponseBody;
const status = (s: number, grpcStatus?: string): UpstreamOutcome => ({ kind: "response", status: s, headers: {}, body, trailers: () => undefined, grpcStatus });
const failure = (reason: "connect-failure" | "reset" | "timeout"): UpstreamOutcome => ({ kind: "failure", reason, message: "" });

test("retry_on covers the outcomes Envoy's names say, and nothing else", () => {
  const table: Array<[string[], UpstreamOutcome, boolean]> = [
    [["5xx"], status(500), true],
    [["5xx"], status(503), true],
    [["5xx"], status(404), false],
    [["5xx"], failure("reset"), true],
    [["5xx"], failure("connect-failure"), true],
    [["gateway-error"], status(502), true],
    [["gateway-error"], status(500), false],
    [["gateway-error"], status(504), true],
    [["reset"], failure("reset"), true],
    [["reset"], failure("connect-failure"), true],
    [["reset"], status(503), false],
    [["connect-failure"], failure("connect-failure"), true],
    [["connect-failure"], failure("reset"), false],
    [["retriable-4xx"], status(409), true],
    [["retriable-4xx"], status(400), false],
    [["cancelled"], status(200, "1"), true],
    [["deadline-exceeded"], status(200, "4"), true],
    [["resource-exhausted"], status(200, "8"), true],
    [["internal"], status(200, "13"), true],
    [["unavailable"], status(200, "14"), true],
    [["unavailable"], status(200, "13"), false],
    [["unavailable"], status(200), false],
    [[], status(503), false],
    [[], failure("reset"), false],
  ];
  for (const [on, outcome, want] of table) assert.equal(retriable(policy(on), outcome), want, `${on.join(",")} ${JSON.stringify({ ...outcome, body: undefined })}`);
  assert.equal(retriable(policy(["retriable-status-codes"], { retriableStatusCodes: new Set([418]) }), status(418)), true);
  assert.equal(retriable(policy(["retriable-status-codes"], { retriableStatusCodes: new Set([418]) }), status(503)), false);
});

test("another attempt needs a retriable outcome, retries left, a replayable body and time before the deadline", () => {
  const p = policy(["5xx"], { numRetries: 2 });
  const ok = { attempts: 1, replayable: true, deadline: 0, now: 1000 };
  assert.equal(mayRetry(p, status(503), ok), true);
  assert.equal(mayRetry(p, status(503), { ...ok, attempts: 2 }), true);
  assert.equal(mayRetry(p, status(503), { ...ok, attempts: 3 }), false, "two retries after the first attempt, then stop");
  assert.equal(mayRetry(p, status(503), { ...ok, replayable: false }), false, "a body past the replay limit cannot be sent again");
  assert.equal(mayRetry(p, status(503), { ...ok, deadline: 1000 }), false, "the route timeout has passed");
  assert.equal(mayRetry(p, status(503), { ...ok, deadline: 1001 }), true);
  assert.equal(mayRetry(p, status(200), ok), false);
  assert.equal(mayRetry(undefined, status(503), ok), false, "no policy, no retry");
});

test("back-off is a uniform draw under min(max interval, base * 2^(n-1))", () => {
  const p = policy(["5xx"], { baseIntervalMs: 25, maxIntervalMs: 250 });
  const table: Array<[number, number, number]> = [[1, 0.5, 12.5], [2, 0.5, 25], [3, 0.999, 99.9], [4, 1, 200], [5, 1, 250], [9, 1, 250], [3, 0, 0]];
  for (const [attempts, random, want] of table) assert.ok(Math.abs(backoffMs(p, attempts, random) - want) < 1e-9, `attempt ${attempts}, draw ${random}: ${backoffMs(p, attempts, random)} != ${want}`);
});

test("URX: retries were made and the last outcome was still one the policy retries", () => {
  const p = policy(["5xx"]);
  assert.equal(exhausted(p, 3, status(503)), true);
  assert.equal(exhausted(p, 3, failure("reset")), true);
  assert.equal(exhausted(p, 3, status(200)), false, "a retry that succeeded is not exhausted");
  assert.equal(exhausted(p, 1, status(503)), false, "no retry was made");
  assert.equal(exhausted(undefined, 3, status(503)), false);
});
