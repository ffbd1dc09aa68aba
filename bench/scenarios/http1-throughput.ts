// The most HTTP/1.1 requests per second (1 KB responses) ONE proxy process serves on ONE core: the proxy pinned to
// CPU 1, a closed-loop h2load with 64 keep-alive connections and the backend pinned to CPU 0. The proxy's CPU use over
// the run says whether it was the bottleneck (busy near 100%) or the load side was, in which case requests per proxy
// CPU-second is the fairer figure.
import { cpus } from "node:os";
import { execFileSync } from "node:child_process";
import { h2loadClosed } from "../lib/h2load.js";
import { cpuSeconds } from "../lib/processes.js";
import { DURATION_MS, ROUNDS } from "../lib/settings.js";
import { startStaticBackend } from "../lib/static-backend.js";
import { direct } from "../peers/chain.js";
import { haproxy } from "../peers/haproxy.js";
import { nginx } from "../peers/nginx.js";
import { trellis } from "../peers/trellis.js";
import { interleaved, printRatios, printTable, runnable, summarize } from "./rounds.js";

const PROXY_CPU = "1";
const LOAD_CPU = "0";
const CONNECTIONS = 64;
const WARMUP_MS = 1000;

interface Sample { perSecond: number; busy: number; perCpuSecond: number; errors: number }

function missing(): string | undefined {
  if (cpus().length < 2) return `needs 2 cores (one for the proxy, one for the load), this machine has ${cpus().length}`;
  for (const [cmd, why] of [["taskset", "taskset (util-linux)"], ["h2load", "h2load (nghttp2-client; run scripts/install-peers.sh)"]]) {
    try {
      execFileSync(cmd, ["--version"], { stdio: "ignore" });
    } catch {
      return `needs ${why}`;
    }
  }
  return undefined;
}

export async function http1ThroughputScenario(): Promise<unknown> {
  const why = missing();
  if (why) {
    console.log(`  skipped: ${why}`);
    return { skipped: why };
  }
  const peers = runnable([direct, trellis, haproxy, nginx]);
  const backend = await startStaticBackend(LOAD_CPU);
  console.log(`  backend: ${backend.kind} on CPU ${LOAD_CPU} with the load; proxies on CPU ${PROXY_CPU}`);
  let samples;
  try {
    samples = await interleaved(peers, ROUNDS, async (peer, round): Promise<Sample> => {
      const chain = await peer.startChain(backend.port, { tls: false, hops: 1, cpus: PROXY_CPU });
      try {
        const pid = chain.procs[0]?.child.pid;
        const cpuBefore = pid ? cpuSeconds(pid) : 0;
        const t0 = process.hrtime.bigint();
        const r = await h2loadClosed({ url: `http://127.0.0.1:${chain.entryPort}/`, connections: CONNECTIONS, durationMs: DURATION_MS, warmupMs: WARMUP_MS, http1: true, cpus: LOAD_CPU });
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const busy = pid ? (cpuSeconds(pid) - cpuBefore) / wall : NaN;
        const s = { perSecond: r.perSecond, busy, perCpuSecond: r.perSecond / busy, errors: r.errors + r.non2xx };
        console.log(`  round ${round + 1}/${ROUNDS} ${peer.name.padEnd(8)} ${r.perSecond.toFixed(0)} req/s, proxy core busy ${(busy * 100).toFixed(0)}%, ${s.perCpuSecond.toFixed(0)} req per proxy CPU-second, errors ${s.errors}`);
        return s;
      } finally {
        await chain.stop();
      }
    });
  } finally {
    await backend.proc.stop();
  }
  const summary = summarize(samples, { perSecond: (s) => s.perSecond, busyPercent: (s) => s.busy * 100, perCpuSecond: (s) => s.perCpuSecond, errors: (s) => s.errors });
  printTable(summary, [
    { figure: "perSecond", title: "req/s", digits: 0 },
    { figure: "busyPercent", title: "proxy core busy %", digits: 0 },
    { figure: "perCpuSecond", title: "req / proxy CPU-second", digits: 0 },
  ]);
  const ratios = printRatios(summary, [{ figure: "perSecond", label: "req/s" }, { figure: "perCpuSecond", label: "req per CPU-second" }]);
  return { rounds: ROUNDS, durationMs: DURATION_MS, warmupMs: WARMUP_MS, connections: CONNECTIONS, proxyCpu: PROXY_CPU, loadCpu: LOAD_CPU, backend: backend.kind, summary, ratios, samples: Object.fromEntries(samples) };
}
