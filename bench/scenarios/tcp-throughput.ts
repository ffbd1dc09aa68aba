// A TCP echo stream's throughput through each peer's chain of two L4 proxies (Trellis' tcp_proxy, HAProxy mode tcp,
// nginx's stream module): one connection written as fast as it drains, MB/s echoed back, proxy CPU seconds per GB.
import { cpuSeconds, freePort, rssMiB, start, waitForPort } from "../lib/processes.js";
import { DURATION_MS, ROUNDS } from "../lib/settings.js";
import { direct } from "../peers/chain.js";
import { haproxy } from "../peers/haproxy.js";
import { nginx } from "../peers/nginx.js";
import { trellis } from "../peers/trellis.js";
import { runNode } from "./http1-latency.js";
import { interleaved, printRatios, printTable, runnable, summarize } from "./rounds.js";

const MEASURE_MS = Math.round(DURATION_MS * 0.6);
const WARMUP_MS = 500;

interface Sample { megabytesPerSecond: number; cpuPerGB: number; rssMiB: number }

export async function tcpThroughputScenario(): Promise<unknown> {
  const peers = runnable([direct, trellis, haproxy, nginx], "tcp");
  const port = await freePort();
  const echo = start("echo-backend", process.execPath, ["dist/bench/lib/echo-backend.js"], { PORT: String(port) });
  let samples;
  try {
    await waitForPort(port);
    samples = await interleaved(peers, ROUNDS, async (peer, round): Promise<Sample> => {
      const chain = await peer.startChain(port, { tls: false, protocol: "tcp" });
      try {
        const pids = chain.procs.map((p) => p.child.pid!);
        const cpuBefore = pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
        const r = await runNode("dist/bench/lib/tcp-stream-load.js", { port: chain.entryPort, durationMs: MEASURE_MS, warmupMs: WARMUP_MS }) as { totalBytes: number; megabytesPerSecond: number };
        const cpu = pids.reduce((s, pid) => s + cpuSeconds(pid), 0) - cpuBefore;
        // CPU was spent over the whole stream (warm-up too), so it is divided by every byte echoed.
        const gigabytes = r.totalBytes / 1e9;
        const s = { megabytesPerSecond: r.megabytesPerSecond, cpuPerGB: pids.length ? cpu / gigabytes : NaN, rssMiB: pids.length ? pids.reduce((a, pid) => a + rssMiB(pid), 0) : NaN };
        console.log(`  round ${round + 1}/${ROUNDS} ${peer.name.padEnd(8)} ${s.megabytesPerSecond.toFixed(0)} MB/s echoed, ${s.cpuPerGB.toFixed(2)} proxy CPU s/GB, RSS ${s.rssMiB.toFixed(1)} MiB`);
        return s;
      } finally {
        await chain.stop();
      }
    });
  } finally {
    await echo.stop();
  }
  const summary = summarize(samples, { megabytesPerSecond: (s) => s.megabytesPerSecond, cpuPerGB: (s) => s.cpuPerGB, rssMiB: (s) => s.rssMiB });
  printTable(summary, [
    { figure: "megabytesPerSecond", title: "MB/s echoed", digits: 0 },
    { figure: "cpuPerGB", title: "CPU s/GB (2 procs)", digits: 2 },
    { figure: "rssMiB", title: "RSS MiB (2 procs)", digits: 1 },
  ]);
  const ratios = printRatios(summary, [{ figure: "megabytesPerSecond", label: "throughput" }, { figure: "cpuPerGB", label: "CPU per GB" }]);
  return { rounds: ROUNDS, measureMs: MEASURE_MS, warmupMs: WARMUP_MS, connections: 1, chunkBytes: 65536, summary, ratios, samples: Object.fromEntries(samples) };
}
