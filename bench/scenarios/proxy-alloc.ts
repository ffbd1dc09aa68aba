// What one Trellis proxy allocates and spends per HTTP/1.1 request, measured in-process (bench/lib/alloc-probe.ts)
// with a fixed 1 MiB young generation: scavenges per 1,000 requests with and without the proxy, KiB per request the
// proxy's own code allocates, its top allocation sites, and process CPU per request. Allocation is the figure a
// loaded machine does not disturb, and young-generation GC is what it costs (issue #19, the tail). Then GC time and
// the longest pause with the sidecar's flags against V8's parallel scavenge, interleaved.
import { loadavg } from "node:os";
import { runNode } from "./http1-latency.js";
import { spread, fmt } from "../lib/stats.js";
import { PROXY_NODE_FLAGS } from "../../src/cli/proxy-node-flags.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FLAGS = ["--min-semi-space-size=1", "--max-semi-space-size=1"];

interface Probe { gcPauseMsPer1000: number; gcMaxMs: number; cpuUsPerRequest: number; scavengesPer1000: number; allKiBPerRequest: number; proxyKiBPerRequest: number; top: Array<{ site: string; bytesPerRequest: number }> }

export async function proxyAllocScenario(): Promise<unknown> {
  const rows: { direct: Probe[]; proxy: Probe[] } = { direct: [], proxy: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const direct of round % 2 ? [true, false] : [false, true]) {
      const p = await runNode("dist/bench/lib/alloc-probe.js", { requests: 3000, direct }, undefined, FLAGS) as Probe;
      (direct ? rows.direct : rows.proxy).push(p);
      console.log(`  round ${round + 1}/${ROUNDS} ${direct ? "direct" : "trellis"}: ${p.scavengesPer1000.toFixed(1)} scavenges/1000 req, ${p.cpuUsPerRequest.toFixed(0)} µs CPU/req${direct ? "" : `, proxy code ${p.proxyKiBPerRequest.toFixed(1)} KiB/req`}`);
    }
  }
  const s = (list: Probe[], f: (p: Probe) => number) => spread(list.map(f));
  const proxyScavenges = spread(rows.proxy.map((p, i) => p.scavengesPer1000 - (rows.direct[i]?.scavengesPer1000 ?? NaN)));
  console.log(`\n  the proxy's share: ${fmt(proxyScavenges, 1)} scavenges per 1,000 requests (1 MiB each), ${fmt(s(rows.proxy, (p) => p.proxyKiBPerRequest), 1)} KiB per request from its own frames`);
  console.log(`  process CPU per request: ${fmt(s(rows.proxy, (p) => p.cpuUsPerRequest), 0)} µs with the proxy, ${fmt(s(rows.direct, (p) => p.cpuUsPerRequest), 0)} µs direct`);
  console.log("  top allocation sites (bytes per request, last round):");
  for (const t of rows.proxy[rows.proxy.length - 1]?.top ?? []) console.log(`    ${String(t.bytesPerRequest).padStart(6)}  ${t.site}`);
  const gc = await gcVariants();
  return { rounds: ROUNDS, flags: FLAGS, requests: 3000, proxyScavengesPer1000: proxyScavenges, rows, gc };
}

/** GC time and the longest pause with the sidecar's flags, and with V8's parallel scavenge instead, interleaved. */
async function gcVariants(): Promise<Record<string, Probe[]>> {
  const variants: Record<string, string[]> = { sidecar: PROXY_NODE_FLAGS, "parallel-scavenge": PROXY_NODE_FLAGS.filter((f) => f !== "--single-threaded-gc") };
  const out: Record<string, Probe[]> = { sidecar: [], "parallel-scavenge": [] };
  console.log(`\n  GC with the sidecar's flags (${PROXY_NODE_FLAGS.join(" ")}) and with parallel scavenge:`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, flags] of Object.entries(variants)) {
      const p = await runNode("dist/bench/lib/alloc-probe.js", { requests: 3000 }, undefined, flags) as Probe;
      out[name].push(p);
      console.log(`  round ${round + 1}/${ROUNDS} ${name.padEnd(17)} GC ${p.gcPauseMsPer1000.toFixed(0)} ms per 1,000 requests, longest pause ${p.gcMaxMs.toFixed(1)} ms, ${p.cpuUsPerRequest.toFixed(0)} µs CPU/req (load average ${loadavg()[0].toFixed(1)})`);
    }
  }
  return out;
}
