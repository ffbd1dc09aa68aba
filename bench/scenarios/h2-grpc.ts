// HTTP/2 (h2c) and gRPC unary at a fixed 1,000 requests/s over 4 connections, 1 KB answers, through each peer's chain
// of two proxies: h2load's rate mode, every request's latency from its log, proxy CPU per 1,000 requests and memory.
// gRPC answers arrive as HTTP 200 whatever their grpc-status, so each must also carry the 1 KB message: a response
// without it (a proxy's trailers-only error) counts as an error.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { framed, GRPC_METHOD, payload } from "../lib/grpc-message.js";
import { h2loadRate, type H2loadRateResult } from "../lib/h2load.js";
import { cpuSeconds, freePort, type Proc, rssMiB, start, waitForPort } from "../lib/processes.js";
import { DURATION_MS, ROUNDS } from "../lib/settings.js";
import { direct, type Peer, type Protocol } from "../peers/chain.js";
import { haproxy } from "../peers/haproxy.js";
import { nginx } from "../peers/nginx.js";
import { trellis } from "../peers/trellis.js";
import { interleaved, printRatios, printTable, runnable, summarize } from "./rounds.js";

const RATE = 1000;
const CONNECTIONS = 4;
/**
 * Streams h2load may open per connection. It sends a due request only on a free stream (else the request waits,
 * untimed): 1,000 at 250 req/s per connection takes 4 s of latency to run out, unless the entry proxy allows fewer
 * (HAProxy 100, nginx 128 by default; Trellis and the backends do not limit). maxInFlight in the results shows it.
 */
const MAX_STREAMS = 1000;
const BODY = 1024;
/** Two loads per peer and round: each gets half of BENCH_DURATION_MS, so the scenario stays under two minutes. */
const MEASURE_MS = Math.round(DURATION_MS * 0.5);
/** Long enough for Trellis' JIT to compile its HTTP/2 path; CPU is counted after it, as for a running sidecar. */
const WARMUP_MS = 2000;

interface Sample { load: H2loadRateResult; unanswered: number; cpuPer1000: number; rssMiB: number; errors: number }

async function backend(name: string, script: string): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const proc = start(name, process.execPath, [script], { PORT: String(port), BODY_BYTES: String(BODY) });
  await waitForPort(port);
  return { port, proc };
}

async function sample(peer: Peer, protocol: Protocol, ports: { h2: number; h1: number; grpc: number }, requestFile: string): Promise<Sample> {
  const chain = await peer.startChain(protocol === "grpc" ? ports.grpc : ports.h2, { tls: false, protocol, http1BackendPort: ports.h1 });
  try {
    const pids = chain.procs.map((p) => p.child.pid!);
    const cpuNow = () => pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
    let cpuBefore = cpuNow();
    const warm = setTimeout(() => (cpuBefore = cpuNow()), WARMUP_MS);
    const grpc = protocol === "grpc";
    const running = h2loadRate({
      url: `http://127.0.0.1:${chain.entryPort}${grpc ? GRPC_METHOD : "/"}`,
      rate: RATE, connections: CONNECTIONS, maxStreams: MAX_STREAMS, durationMs: MEASURE_MS, warmupMs: WARMUP_MS,
      ...(grpc ? { dataFile: requestFile, headers: ["content-type: application/grpc", "te: trailers"] } : {}),
    });
    const load = await running;
    clearTimeout(warm);
    const cpu = cpuNow() - cpuBefore;
    const rss = pids.reduce((s, pid) => s + rssMiB(pid), 0);
    // h2load counts 200s; a gRPC answer without its message is a failed call. Both counts may see the same failure
    // (and `unanswered` spans the warm-up too), so the larger one is reported.
    const expected = grpc ? framed(payload(BODY)).length : BODY;
    const unanswered = Math.max(0, load.done - Math.floor(load.dataBytes / expected));
    return { load, unanswered, cpuPer1000: pids.length ? (cpu / Math.max(1, (RATE * MEASURE_MS) / 1000)) * 1000 : NaN, rssMiB: pids.length ? rss : NaN, errors: Math.max(load.errors + load.non2xx, unanswered) };
  } finally {
    await chain.stop();
  }
}

export async function h2GrpcScenario(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-grpc-"));
  const requestFile = join(dir, "request.bin");
  writeFileSync(requestFile, framed(payload(64)));
  const peers = runnable([direct, trellis, haproxy, nginx], "grpc");
  const procs: Proc[] = [];
  const results: Record<string, unknown> = {};
  try {
    const ports = { h2: 0, h1: 0, grpc: 0 };
    for (const [key, script] of [["h2", "h2-backend"], ["h1", "backend"], ["grpc", "grpc-backend"]] as const) {
      const b = await backend(script, `dist/bench/lib/${script}.js`);
      procs.push(b.proc);
      ports[key] = b.port;
    }
    const samples: Record<"h2" | "grpc", Map<string, Sample[]>> = { h2: new Map(), grpc: new Map() };
    const bySide = await interleaved(peers, ROUNDS, async (peer, round) => {
      const out = {} as Record<"h2" | "grpc", Sample>;
      for (const protocol of ["h2", "grpc"] as const) {
        const s = await sample(peer, protocol, ports, requestFile);
        out[protocol] = s;
        console.log(`  round ${round + 1}/${ROUNDS} ${protocol.padEnd(4)} ${peer.name.padEnd(8)} p50 ${s.load.p50.toFixed(3)} p90 ${s.load.p90.toFixed(3)} p99 ${s.load.p99.toFixed(3)} ms, ${s.load.achievedRate.toFixed(0)} req/s, at most ${s.load.maxInFlight} in flight, errors ${s.errors}${s.errors ? ` (failed streams ${s.load.errors}, non-2xx ${s.load.non2xx}, answers short of their body ${s.unanswered})` : ""}`);
      }
      return out;
    });
    for (const [name, list] of bySide) for (const p of ["h2", "grpc"] as const) samples[p].set(name, list.map((x) => x[p]));
    for (const protocol of ["h2", "grpc"] as const) {
      const summary = summarize(samples[protocol], {
        p50: (s) => s.load.p50, p90: (s) => s.load.p90, p99: (s) => s.load.p99,
        cpuPer1000: (s) => s.cpuPer1000, rssMiB: (s) => s.rssMiB, errors: (s) => s.errors,
      });
      const base = summary.direct?.p99.median ?? NaN;
      for (const s of Object.values(summary)) s.addedP99 = { median: s.p99.median - base, min: s.p99.min - base, max: s.p99.max - base };
      console.log(`\n  ${protocol === "h2" ? "HTTP/2 (h2c)" : "gRPC unary"}, ${RATE} req/s over ${CONNECTIONS} connections:`);
      printTable(summary, [
        { figure: "p50", title: "p50 ms", digits: 3 }, { figure: "p90", title: "p90 ms", digits: 3 }, { figure: "p99", title: "p99 ms", digits: 3 },
        { figure: "addedP99", title: "added p99 (2 hops)", digits: 3 }, { figure: "cpuPer1000", title: "CPU s/1000 req", digits: 3 },
        { figure: "rssMiB", title: "RSS MiB (2 procs)", digits: 1 }, { figure: "errors", title: "errors", digits: 0 },
      ]);
      const ratios = printRatios(summary, [{ figure: "p99", label: "p99" }, { figure: "addedP99", label: "added p99" }, { figure: "cpuPer1000", label: "CPU per request" }]);
      results[protocol] = { summary, ratios, samples: Object.fromEntries(samples[protocol]) };
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  return { rounds: ROUNDS, measureMs: MEASURE_MS, warmupMs: WARMUP_MS, rate: RATE, connections: CONNECTIONS, maxStreams: MAX_STREAMS, bodyBytes: BODY, generator: "h2load --rps with --log-file", ...results };
}
