// The proxy process's own health as stats: event-loop delay (a stalled loop is every request's tail) and GC pauses by
// kind, plus heap and resident memory, so a latency tail can be lined up with what the process was doing.
import { type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver, constants } from "node:perf_hooks";
import { memoryUsage } from "node:process";

/** GC kinds as V8 reports them to the performance timeline, named as in --trace-gc's output. */
const GC_KINDS: ReadonlyArray<[number, string]> = [
  [constants.NODE_PERFORMANCE_GC_MINOR, "scavenge"],
  [constants.NODE_PERFORMANCE_GC_MAJOR, "mark_compact"],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, "incremental"],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, "weak_callbacks"],
];

interface GcTotals { count: number; pauseUs: number; maxPauseUs: number }

/** Where the figures go: the proxy's Stats (setGauge), so /stats, its JSON and Prometheus forms all carry them. */
export interface GaugeSink {
  setGauge(name: string, value: number): void;
}

export class RuntimeStats {
  private readonly loop: IntervalHistogram;
  private readonly gc = new Map<string, GcTotals>();
  private readonly observer: PerformanceObserver;

  /** resolutionMs: how often the loop's lateness is sampled (a cheap libuv timer; 10 ms is Node's default). */
  constructor(resolutionMs = 10) {
    this.loop = monitorEventLoopDelay({ resolution: resolutionMs });
    this.loop.enable();
    for (const [, name] of GC_KINDS) this.gc.set(name, { count: 0, pauseUs: 0, maxPauseUs: 0 });
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.recordGc((e as unknown as { detail?: { kind?: number } }).detail?.kind, e.duration);
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  private recordGc(kind: number | undefined, durationMs: number): void {
    const name = GC_KINDS.find(([k]) => k === kind)?.[1] ?? "other";
    let t = this.gc.get(name);
    if (!t) this.gc.set(name, (t = { count: 0, pauseUs: 0, maxPauseUs: 0 }));
    const us = Math.round(durationMs * 1000);
    t.count++;
    t.pauseUs += us;
    if (us > t.maxPauseUs) t.maxPauseUs = us;
  }

  /** Writes the current figures (microseconds for times, bytes for memory) as gauges. */
  publish(sink: GaugeSink): void {
    const us = (ns: number) => (Number.isFinite(ns) ? Math.round(ns / 1000) : 0);
    const h = this.loop;
    const has = h.count > 0;
    sink.setGauge("server.event_loop_delay_p50_us", has ? us(h.percentile(50)) : 0);
    sink.setGauge("server.event_loop_delay_p99_us", has ? us(h.percentile(99)) : 0);
    sink.setGauge("server.event_loop_delay_p999_us", has ? us(h.percentile(99.9)) : 0);
    sink.setGauge("server.event_loop_delay_max_us", has ? us(h.max) : 0);
    sink.setGauge("server.event_loop_delay_samples", h.count);
    let count = 0, pause = 0, max = 0;
    for (const [name, t] of this.gc) {
      sink.setGauge(`server.gc.${name}.count`, t.count);
      sink.setGauge(`server.gc.${name}.pause_total_us`, t.pauseUs);
      sink.setGauge(`server.gc.${name}.pause_max_us`, t.maxPauseUs);
      count += t.count;
      pause += t.pauseUs;
      max = Math.max(max, t.maxPauseUs);
    }
    sink.setGauge("server.gc.count", count);
    sink.setGauge("server.gc.pause_total_us", pause);
    sink.setGauge("server.gc.pause_max_us", max);
    const m = memoryUsage();
    // Envoy's names for its allocator's figures, plus what only a V8 process has.
    sink.setGauge("server.memory_allocated", m.heapUsed);
    sink.setGauge("server.memory_heap_size", m.heapTotal);
    sink.setGauge("server.memory_external", m.external + m.arrayBuffers);
    sink.setGauge("server.memory_rss", m.rss);
  }

  /** Starts a new measurement window: the loop histogram and the GC totals from zero (admin /reset_counters). */
  reset(): void {
    this.loop.reset();
    for (const t of this.gc.values()) t.count = t.pauseUs = t.maxPauseUs = 0;
  }

  close(): void {
    this.loop.disable();
    this.observer.disconnect();
  }
}

let shared: RuntimeStats | undefined;

/** One per process: the event loop and the heap are the process's, however many proxies it hosts (tests host several). */
export function processRuntimeStats(): RuntimeStats {
  return (shared ??= new RuntimeStats());
}
