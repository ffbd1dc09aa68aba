// Runs nghttp2's h2load (C, so the load costs little of the shared cores) and reads its results. Two modes: a fixed
// rate (--rps per connection) with every request's latency read from --log-file into an HdrHistogram, and closed
// loop (-D) for the most requests per second a target serves.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHistogram } from "node:perf_hooks";
import type { LoadResult } from "./load-generator.js";

export interface H2loadRate {
  url: string;
  /** Requests per second over all connections (split evenly: h2load's --rps is per connection). */
  rate: number;
  connections: number;
  durationMs: number;
  warmupMs: number;
  /**
   * h2load sends a due request only when the connection has a free stream, and times it from then: with few streams
   * a stall would hide the requests waiting behind it. Enough streams that none ever waits keeps the actual send time
   * the intended one (to within h2load's 1/rps timer tick).
   */
  maxStreams: number;
  /** POST this file's bytes (h2load -d), e.g. a framed gRPC message. */
  dataFile?: string;
  headers?: string[];
  cpus?: string;
}

export interface H2loadRateResult extends LoadResult {
  /** Response body bytes over the whole run (warm-up included), to check gRPC answers carried their message. */
  dataBytes: number;
  /** The most requests in flight at once over all connections, from the log: near connections x streams, some waited. */
  maxInFlight: number;
  done: number;
}

/** h2load is killed if it runs a minute past its planned time (a proxy that never answers must not hang the run). */
function run(args: string[], plannedMs: number, cpus?: string): Promise<string> {
  const [cmd, argv] = cpus !== undefined ? ["taskset", ["-c", cpus, "h2load", ...args]] : ["h2load", args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { maxBuffer: 16 * 1024 * 1024, timeout: plannedMs + 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`h2load ${args.join(" ")} failed: ${err.message} ${stderr.slice(-500)}`));
      else resolve(stdout);
    });
  });
}

function counts(out: string): { done: number; succeeded: number; errored: number; dataBytes: number; non2xx: number; perSecond: number } {
  const req = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const data = /traffic: .*?, .*? \((\d+)\) data/.exec(out);
  const rate = /finished in [^,]+, ([\d.]+) req\/s/.exec(out);
  if (!req || !rate) throw new Error(`h2load printed no summary: ${out.slice(-500)}`);
  const non2xx = codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : 0;
  return { done: Number(req[1]), succeeded: Number(req[2]), errored: Number(req[4]), dataBytes: data ? Number(data[1]) : 0, non2xx, perSecond: Number(rate[1]) };
}

export async function h2loadRate(o: H2loadRate): Promise<H2loadRateResult> {
  const perConnection = o.rate / o.connections;
  if (!Number.isInteger(perConnection)) throw new Error(`h2load rate ${o.rate} must divide evenly over ${o.connections} connections`);
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-h2load-"));
  const log = join(dir, "requests.tsv");
  try {
    const total = Math.round((o.rate * (o.warmupMs + o.durationMs)) / 1000);
    const args = ["-n", String(total), "-c", String(o.connections), "-t", "1", "-m", String(o.maxStreams), "--rps", String(perConnection), "--log-file", log];
    if (o.dataFile) args.push("-d", o.dataFile);
    for (const h of o.headers ?? []) args.push("-H", h);
    const c = counts(await run([...args, o.url], o.warmupMs + o.durationMs, o.cpus));
    // One row per request: start (µs since the epoch), status (-1: failed stream), µs until the response ended.
    const rows = readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => l.split("\t").map(Number));
    const first = rows.reduce((m, r) => Math.min(m, r[0]), Infinity);
    const measured = rows.filter((r) => r[0] >= first + o.warmupMs * 1000);
    const histogram = createHistogram({ lowest: 1, highest: 60_000_000_000, figures: 3 });
    let errors = 0, non2xx = 0;
    for (const [, status, us] of measured) {
      if (status < 0) errors++;
      else {
        if (status < 200 || status >= 300) non2xx++;
        histogram.record(Math.max(1, Math.round(us * 1000)));
      }
    }
    const ms = (ns: number) => ns / 1e6;
    return {
      maxInFlight: maxInFlight(rows),
      sent: measured.length, completed: measured.length - errors, errors: errors + (total - rows.length), non2xx,
      achievedRate: (measured.length - errors) / (o.durationMs / 1000),
      p50: ms(histogram.percentile(50)), p90: ms(histogram.percentile(90)), p99: ms(histogram.percentile(99)),
      p999: ms(histogram.percentile(99.9)), max: ms(histogram.max), mean: ms(histogram.mean),
      dataBytes: c.dataBytes, done: c.done,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function maxInFlight(rows: number[][]): number {
  const events = rows.flatMap(([startUs, , us]) => [[startUs, 1], [startUs + us, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0, most = 0;
  for (const [, delta] of events) most = Math.max(most, (now += delta));
  return most;
}

export interface H2loadClosed {
  url: string;
  connections: number;
  durationMs: number;
  warmupMs: number;
  /** HTTP/1.1 instead of HTTP/2 (h2load --h1; one request in flight per connection). */
  http1: boolean;
  cpus?: string;
}

export async function h2loadClosed(o: H2loadClosed): Promise<{ perSecond: number; completed: number; errors: number; non2xx: number }> {
  const args = ["-c", String(o.connections), "-t", "1", "-D", `${o.durationMs / 1000}`, "--warm-up-time", `${o.warmupMs / 1000}`];
  if (o.http1) args.push("--h1");
  const c = counts(await run([...args, o.url], o.warmupMs + o.durationMs, o.cpus));
  return { perSecond: c.perSecond, completed: c.succeeded, errors: c.errored, non2xx: c.non2xx };
}
