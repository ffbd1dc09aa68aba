// A Trellis proxy's own view of a measured window, read from its admin endpoint: event-loop delay, GC pauses and
// memory (src/proxy/stats/runtime-stats.ts), so a round's p99 can be lined up with what the proxies were doing.
import { request } from "node:http";

export interface ProxyRuntime {
  /** Event-loop delay over the window, ms (sampled every 10 ms by monitorEventLoopDelay). */
  loopP99: number;
  loopP999: number;
  loopMax: number;
  /** GC pauses over the window: count, total and longest (ms), and how much of it was mark-compact. */
  gcCount: number;
  gcTotal: number;
  gcMax: number;
  majorCount: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  rssMiB: number;
}

function admin(port: number, method: "GET" | "POST", path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`admin ${path} on ${port}: ${res.statusCode} ${body.trim()}`))));
    });
    req.on("timeout", () => req.destroy(new Error(`admin ${path} on ${port}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** Starts the window: counters and the runtime figures from zero. */
export async function resetRuntime(adminPorts: number[]): Promise<void> {
  await Promise.all(adminPorts.map((p) => admin(p, "POST", "/reset_counters")));
}

/** The window's figures, one per proxy. */
export async function readRuntime(adminPorts: number[]): Promise<ProxyRuntime[]> {
  return Promise.all(adminPorts.map(async (p) => {
    const { stats } = JSON.parse(await admin(p, "GET", "/stats?format=json")) as { stats: Array<{ name: string; value: number }> };
    const v = (name: string) => stats.find((s) => s.name === name)?.value ?? NaN;
    const ms = (name: string) => v(name) / 1000;
    return {
      loopP99: ms("server.event_loop_delay_p99_us"), loopP999: ms("server.event_loop_delay_p999_us"), loopMax: ms("server.event_loop_delay_max_us"),
      gcCount: v("server.gc.count"), gcTotal: ms("server.gc.pause_total_us"), gcMax: ms("server.gc.pause_max_us"), majorCount: v("server.gc.mark_compact.count"),
      heapUsedMiB: v("server.memory_allocated") / 2 ** 20, heapTotalMiB: v("server.memory_heap_size") / 2 ** 20, externalMiB: v("server.memory_external") / 2 ** 20, rssMiB: v("server.memory_rss") / 2 ** 20,
    };
  }));
}

/** One line per proxy: "loop p99/p99.9/max, GC n (major m) total/max". */
export function describeRuntime(r: ProxyRuntime[]): string {
  return r.map((x, i) => `proxy${i + 1} loop p99 ${x.loopP99.toFixed(1)} p99.9 ${x.loopP999.toFixed(1)} max ${x.loopMax.toFixed(1)} ms, GC ${x.gcCount} (major ${x.majorCount}) ${x.gcTotal.toFixed(1)} ms total, max ${x.gcMax.toFixed(2)} ms, heap ${x.heapUsedMiB.toFixed(1)} MiB`).join("; ");
}
