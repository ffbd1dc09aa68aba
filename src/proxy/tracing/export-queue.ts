// The span queue every exporter shares: bounded (the oldest span goes first, counted), sent in batches by a timer or
// when a batch fills, one send at a time, failures counted and logged at most once a minute. Requests only ever
// append to it: a collector that is down, slow or erroring costs dropped spans, never latency or unbounded memory.
import type { OtlpSpan } from "../../xds/otlp-trace.js";
import type { Stats } from "../stats/stats.js";

export interface ExportQueueOptions {
  /** Stat names: spans sent, spans dropped, failed sends. */
  stats: { sent: string; dropped: string; failed: string };
  /** What the log line names as the destination. */
  describe: string;
  maxQueue?: number;
  batch?: number;
  flushMs?: number;
  /** The least time between two log lines about failures. */
  logEveryMs?: number;
  log?: (line: string) => void;
}

export const DEFAULT_MAX_QUEUE = 4096;
// Small batches: encoding one is a synchronous pause every request queued behind it feels (~1 ms for 128 spans).
const DEFAULT_BATCH = 128;

export class ExportQueue {
  private queue: OtlpSpan[] = [];
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private lastLog = -Infinity;
  private unlogged = 0;
  private readonly maxQueue: number;
  private readonly batch: number;
  private readonly flushMs: number;
  private readonly logEveryMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly send: (spans: OtlpSpan[]) => Promise<void>, private readonly statsSink: Stats, private readonly opts: ExportQueueOptions) {
    this.maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.batch = opts.batch ?? DEFAULT_BATCH;
    this.flushMs = opts.flushMs ?? 1000;
    this.logEveryMs = opts.logEveryMs ?? 60_000;
    this.log = opts.log ?? ((line) => console.error(line));
  }

  /** Spans waiting (not counting a batch being sent). */
  get length(): number {
    return this.queue.length;
  }

  add(span: OtlpSpan): void {
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.statsSink.inc(this.opts.stats.dropped);
    }
    this.queue.push(span);
    if (this.queue.length >= this.batch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  /** Sends what is queued; resolves when the last batch is answered (used on shutdown). One drain at a time. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batch);
      try {
        await this.send(batch);
        this.statsSink.inc(this.opts.stats.sent, batch.length);
      } catch (err) {
        this.statsSink.inc(this.opts.stats.failed);
        this.statsSink.inc(this.opts.stats.dropped, batch.length);
        this.failed(err as Error, batch.length);
      }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private failed(err: Error, spans: number): void {
    const now = performance.now();
    if (now - this.lastLog < this.logEveryMs) {
      this.unlogged++;
      return;
    }
    const since = this.unlogged > 0 ? `; ${this.unlogged} more failed sends since the last line` : "";
    this.log(`trellis proxy: cannot export ${spans} spans to ${this.opts.describe}: ${err.message} (dropped; counted in ${this.opts.stats.dropped} and ${this.opts.stats.failed}; this line repeats at most every ${Math.round(this.logEveryMs / 1000)} s${since})`);
    this.lastLog = now;
    this.unlogged = 0;
  }
}
