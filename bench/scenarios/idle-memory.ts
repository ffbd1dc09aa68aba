// Resident memory of ONE proxy process per peer: idle, a moment after it started with a one-route config (and a
// Trellis sidecar with a Bookinfo-sized config), then at its peak while it serves HTTP/1.1 1 KB at 1,000 req/s over
// 4 connections (our fixed-rate generator). The target: at most 40 MB idle per sidecar.
import { cpuSeconds, freePort, rssMiB, start, waitForPort } from "../lib/processes.js";
import { readRuntime } from "../lib/proxy-runtime.js";
import { DURATION_MS, ROUNDS } from "../lib/settings.js";
import { haproxy } from "../peers/haproxy.js";
import { nginx } from "../peers/nginx.js";
import { trellis } from "../peers/trellis.js";
import { trellisBookinfo } from "../peers/trellis-bookinfo.js";
import { runLoadProcess } from "./http1-latency.js";
import { interleaved, printRatios, printTable, runnable, summarize } from "./rounds.js";

/** How long a proxy sits idle after its listeners answer, before its memory is read. */
const SETTLE_MS = 1500;
const MEASURE_MS = Math.round(DURATION_MS * 0.5);
const WARMUP_MS = 500;
const SAMPLE_EVERY_MS = 100;
const TARGET_MB = 40;

interface Sample {
  idleMiB: number;
  loadedMiB: number;
  cpuPer1000: number;
  p99: number;
  errors: number;
  /** Trellis: the V8 heap in use and reserved, and memory outside it (Buffers), when idle: what RSS is made of. */
  idleHeap?: { usedMiB: number; totalMiB: number; externalMiB: number };
}

/** A Trellis proxy's idle heap from its admin /stats (bench/lib/proxy-runtime.ts reads the same gauges). */
async function readHeap(adminPort: number): Promise<{ usedMiB: number; totalMiB: number; externalMiB: number }> {
  const [r] = await readRuntime([adminPort]);
  return { usedMiB: r.heapUsedMiB, totalMiB: r.heapTotalMiB, externalMiB: r.externalMiB };
}

/** An empty Node.js process's RSS after the same settling time: the floor under any Trellis figure. */
async function nodeFloorMiB(): Promise<number> {
  const proc = start("node-floor", process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"]);
  try {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return rssMiB(proc.child.pid!);
  } finally {
    await proc.stop();
  }
}

export async function idleMemoryScenario(): Promise<unknown> {
  const peers = runnable([trellis, trellisBookinfo, haproxy, nginx]);
  const nodeFloor = await nodeFloorMiB();
  console.log(`  an empty Node.js ${process.version} process: ${nodeFloor.toFixed(1)} MiB`);
  const port = await freePort();
  const backend = start("backend", process.execPath, ["dist/bench/lib/backend.js"], { PORT: String(port) });
  let samples;
  try {
    await waitForPort(port);
    samples = await interleaved(peers, ROUNDS, async (peer, round): Promise<Sample> => {
      const chain = await peer.startChain(port, { tls: false, hops: 1 });
      try {
        const pid = chain.procs[0].child.pid!;
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const idleMiB = rssMiB(pid);
        const idleHeap = chain.adminPorts ? await readHeap(chain.adminPorts[0]) : undefined;
        const cpuBefore = cpuSeconds(pid);
        let loadedMiB = 0;
        const sampler = setInterval(() => { loadedMiB = Math.max(loadedMiB, rssMiB(pid)); }, SAMPLE_EVERY_MS);
        let load;
        try {
          load = await runLoadProcess({ host: "127.0.0.1", port: chain.entryPort, path: "/", rate: 1000, connections: 4, durationMs: MEASURE_MS, warmupMs: WARMUP_MS });
        } finally {
          clearInterval(sampler);
        }
        loadedMiB = Math.max(loadedMiB, rssMiB(pid));
        const s = { idleMiB, loadedMiB, cpuPer1000: ((cpuSeconds(pid) - cpuBefore) / Math.max(1, load.sent)) * 1000, p99: load.p99, errors: load.errors + load.non2xx, idleHeap };
        const heap = idleHeap ? ` (heap ${idleHeap.usedMiB.toFixed(1)} used of ${idleHeap.totalMiB.toFixed(1)}, external ${idleHeap.externalMiB.toFixed(1)})` : "";
        console.log(`  round ${round + 1}/${ROUNDS} ${peer.name.padEnd(16)} idle ${idleMiB.toFixed(1)} MiB${heap}, at 1,000 req/s ${loadedMiB.toFixed(1)} MiB (p99 ${load.p99.toFixed(2)} ms, errors ${s.errors})`);
        return s;
      } finally {
        await chain.stop();
      }
    });
  } finally {
    await backend.stop();
  }
  const summary = summarize(samples, { idleHeapUsedMiB: (s) => s.idleHeap?.usedMiB ?? NaN, idleHeapTotalMiB: (s) => s.idleHeap?.totalMiB ?? NaN, idleMiB: (s) => s.idleMiB, loadedMiB: (s) => s.loadedMiB, cpuPer1000: (s) => s.cpuPer1000, p99: (s) => s.p99 });
  printTable(summary, [
    { figure: "idleMiB", title: "idle RSS MiB", digits: 1 },
    { figure: "idleHeapUsedMiB", title: "idle V8 heap used MiB", digits: 1 },
    { figure: "idleHeapTotalMiB", title: "idle V8 heap total MiB", digits: 1 },
    { figure: "loadedMiB", title: "RSS MiB at 1,000 req/s", digits: 1 },
    { figure: "cpuPer1000", title: "CPU s/1000 req", digits: 3 },
    { figure: "p99", title: "p99 ms (1 hop)", digits: 2 },
  ]);
  const ratios = printRatios(summary, [{ figure: "idleMiB", label: "idle RSS" }, { figure: "loadedMiB", label: "RSS at 1,000 req/s" }]);
  const target: Record<string, { idleMB: number; met: boolean }> = {};
  for (const name of ["trellis", "trellis-bookinfo"]) {
    if (!summary[name]) continue;
    // The issue states megabytes; RSS is read in KiB.
    const idleMB = (summary[name].idleMiB.median * 2 ** 20) / 1e6;
    target[name] = { idleMB, met: idleMB <= TARGET_MB };
    console.log(`  ${name}: ${idleMB.toFixed(1)} MB idle against the target of ${TARGET_MB} MB: ${idleMB <= TARGET_MB ? "met" : "not met"}`);
  }
  return { rounds: ROUNDS, settleMs: SETTLE_MS, nodeFloorMiB: nodeFloor, measureMs: MEASURE_MS, warmupMs: WARMUP_MS, rate: 1000, connections: 4, targetMB: TARGET_MB, summary, ratios, target, samples: Object.fromEntries(samples) };
}
