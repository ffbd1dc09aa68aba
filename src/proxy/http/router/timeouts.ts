// The route's timeouts: the global one (route timeout, from the first byte sent upstream to the response's end of
// headers, across retries) and the per-try one (per_try_timeout, one attempt). One timer each, cleared when settled.

/** A timer that fires at most once and is cleared by `clear` (idempotent); 0 ms means none. */
export class OneShotTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(ms: number, onExpire: () => void) {
    if (ms > 0) this.timer = setTimeout(() => {
      this.timer = undefined;
      onExpire();
    }, ms);
  }

  get armed(): boolean {
    return this.timer !== undefined;
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The route timeout's deadline as epoch ms (0: none), for retries to stop starting attempts past it. */
export function deadlineOf(timeoutMs: number, now: number): number {
  return timeoutMs > 0 ? now + timeoutMs : 0;
}

/** The per-try timeout in force: the retry policy's, when a policy sets one. */
export function perTryTimeoutMs(retry: { perTryTimeoutMs: number } | undefined): number {
  return retry && retry.perTryTimeoutMs > 0 ? retry.perTryTimeoutMs : 0;
}
