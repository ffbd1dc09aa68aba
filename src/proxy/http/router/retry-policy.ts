// The retry policy as pure decisions: whether an outcome is retriable under retry_on, whether another attempt is
// allowed (count, replayable body, deadline), and Envoy's jittered exponential back-off.
import type { RetryConfig } from "../route-table.js";
import type { UpstreamOutcome } from "./upstream-outcome.js";

/** gRPC status codes by retry_on name (Envoy's x-envoy-retry-grpc-on). */
const GRPC_ON: ReadonlyArray<[string, string]> = [["cancelled", "1"], ["deadline-exceeded", "4"], ["resource-exhausted", "8"], ["internal", "13"], ["unavailable", "14"]];

/** Whether retry_on covers this outcome. */
export function retriable(retry: RetryConfig, outcome: UpstreamOutcome): boolean {
  const on = retry.retryOn;
  if (outcome.kind === "failure") {
    if (outcome.reason === "connect-failure") return on.has("connect-failure") || on.has("5xx") || on.has("gateway-error") || on.has("reset");
    return on.has("reset") || on.has("5xx") || on.has("gateway-error");
  }
  const s = outcome.status;
  if (on.has("5xx") && s >= 500) return true;
  if (on.has("gateway-error") && (s === 502 || s === 503 || s === 504)) return true;
  if (on.has("retriable-4xx") && s === 409) return true;
  if (on.has("retriable-status-codes") && retry.retriableStatusCodes.has(s)) return true;
  const g = outcome.grpcStatus;
  if (g !== undefined) for (const [name, code] of GRPC_ON) if (g === code && on.has(name)) return true;
  return false;
}

export interface RetryState {
  /** Attempts made so far, the one that just ended included. */
  attempts: number;
  /** The request body is still held in full (or there is none), so it can be sent again. */
  replayable: boolean;
  /** Epoch ms the route's timeout ends, 0 for none. */
  deadline: number;
  now: number;
}

/** Whether the policy allows another attempt after this outcome (circuit breakers are the caller's to check). */
export function mayRetry(retry: RetryConfig | undefined, outcome: UpstreamOutcome, s: RetryState): retry is RetryConfig {
  return retry !== undefined && s.attempts <= retry.numRetries && s.replayable && retriable(retry, outcome) && (!s.deadline || s.now < s.deadline);
}

/** Envoy's back-off: a uniform draw in [0, min(max, base * 2^(attempts-1))). `random` is in [0, 1). */
export function backoffMs(retry: RetryConfig, attempts: number, random: number): number {
  return Math.min(retry.maxIntervalMs, retry.baseIntervalMs * 2 ** (attempts - 1)) * random;
}

/** The URX flag: the retries ran out, and the last outcome was one the policy would have retried. */
export function exhausted(retry: RetryConfig | undefined, attempts: number, outcome: UpstreamOutcome): boolean {
  return retry !== undefined && attempts > 1 && (outcome.kind !== "response" || retriable(retry, outcome));
}
