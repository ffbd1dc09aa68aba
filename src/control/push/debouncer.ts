// Debounces change notifications into pushes, as istiod's PILOT_DEBOUNCE_AFTER / PILOT_DEBOUNCE_MAX do: a push
// runs once the changes have been quiet for `quietMs`, or at the latest `maxMs` after the first one, so a burst of a
// thousand writes is one push (or a few, when it outlasts maxMs), never a thousand queued ones.

export interface DebounceOptions {
  /** Quiet time after the last change before pushing (istiod: 100 ms). */
  quietMs: number;
  /** Longest a change waits while changes keep coming (istiod: 10 s). */
  maxMs: number;
}

export class Debouncer {
  private timer?: NodeJS.Timeout;
  private first = 0;
  /** Changes folded into the push that is waiting. */
  private pending = 0;
  /** Pushes run, and the changes they carried, for /debug and tests. */
  readonly stats = { pushes: 0, changes: 0 };

  constructor(private readonly options: DebounceOptions, private readonly push: (changes: number) => void) {
    if (!(options.quietMs >= 0) || !(options.maxMs >= options.quietMs)) throw new Error(`debounce: quietMs (${options.quietMs}) must be >= 0 and maxMs (${options.maxMs}) >= quietMs`);
  }

  /** Notes one change; the push follows when they settle. */
  notify(): void {
    const now = Date.now();
    if (this.pending === 0) this.first = now;
    this.pending++;
    clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.options.quietMs, this.first + this.options.maxMs - now));
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref();
  }

  /** Runs a waiting push now (a stop, or a caller that must not wait). */
  flush(): void {
    if (this.pending > 0) this.fire();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = 0;
  }

  private fire(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const changes = this.pending;
    this.pending = 0;
    this.stats.pushes++;
    this.stats.changes += changes;
    this.push(changes);
  }
}
