// The route's timeouts: the global one (route timeout, from the first byte sent upstream to the response's end of
// headers, across retries) and the per-try one (per_try_timeout, one attempt). One timer each, cleared when settled.

/**
 * Arms a timer that calls `fire(target)` after `ms` (none for 0). The target rides as the timer's argument instead of
 * being captured in a closure, so a request's timer costs Node's Timeout object and nothing more.
 */
export function armTimer<T>(ms: number, fire: (target: T) => void, target: T): NodeJS.Timeout | undefined {
  return ms > 0 ? setTimeout(fire, ms, target) : undefined;
}

/** The route timeout's deadline as epoch ms (0: none), for retries to stop starting attempts past it. */
export function deadlineOf(timeoutMs: number, now: number): number {
  return timeoutMs > 0 ? now + timeoutMs : 0;
}

/** The per-try timeout in force: the retry policy's, when a policy sets one. */
export function perTryTimeoutMs(retry: { perTryTimeoutMs: number } | undefined): number {
  return retry && retry.perTryTimeoutMs > 0 ? retry.perTryTimeoutMs : 0;
}
