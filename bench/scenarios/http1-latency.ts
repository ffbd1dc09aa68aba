// HTTP/1.1, 1 KB responses at 1,000 requests/s over 4 connections (Istio's published setup), through two chained
// proxies per peer; latency from intended send time, proxy CPU per 1,000 requests and resident memory.
import { spawn } from "node:child_process";
import type { LoadOptions, LoadResult } from "../lib/load-generator.js";
import { cpuSeconds, rssMiB } from "../lib/processes.js";
import type { Peer } from "../peers/chain.js";
import { type ProxyRuntime, readRuntime, resetRuntime } from "../lib/proxy-runtime.js";

export interface HopSample {
  peer: string;
  load: LoadResult;
  cpuPer1000: number;
  rssMiB: number;
  /** Trellis: each proxy's event-loop delay, GC pauses and heap over the measured window. */
  runtime?: ProxyRuntime[];
}

/**
 * Runs a load script in its own process (its CPU is not the proxies') and parses the JSON it prints; `onMeasuring`
 * runs when the script says its measured window starts (the warm-up is over).
 */
export function runNode(script: string, opts: object, onMeasuring?: () => void, nodeFlags: string[] = []): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, script, JSON.stringify(opts)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => {
      const text = d.toString();
      if (text.includes("measuring\n")) onMeasuring?.();
      err += text.replace("measuring\n", "");
    });
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${script} failed: ${err.trim()}`))));
  });
}

export function runLoadProcess(opts: LoadOptions, onMeasuring?: () => void): Promise<LoadResult> {
  return runNode("dist/bench/lib/load-generator.js", opts, onMeasuring) as Promise<LoadResult>;
}

export async function sampleHop(peer: Peer, backendPort: number, load: Omit<LoadOptions, "port" | "host" | "path">, tls = false): Promise<HopSample> {
  const chain = await peer.startChain(backendPort, { tls });
  try {
    const pids = chain.procs.map((p) => p.child.pid!);
    const cpuNow = () => pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
    // CPU is counted over the measured window only: a warmed-up proxy, as a sidecar is after its first minute
    // (Trellis' JIT compiles its hot path during the warm-up; native peers have nothing to warm).
    let cpuBefore = cpuNow();
    const admin = chain.adminPorts ?? [];
    let reset: Promise<void> = Promise.resolve();
    const result = await runLoadProcess({ ...load, host: "127.0.0.1", port: chain.entryPort, path: "/" }, () => {
      cpuBefore = cpuNow();
      reset = resetRuntime(admin);
    });
    const cpuAfter = cpuNow();
    await reset;
    const runtime = admin.length ? await readRuntime(admin) : undefined;
    const rss = pids.reduce((s, pid) => s + rssMiB(pid), 0);
    return { peer: peer.name, load: result, cpuPer1000: pids.length ? ((cpuAfter - cpuBefore) / Math.max(1, result.completed)) * 1000 : 0, rssMiB: rss, runtime };
  } finally {
    await chain.stop();
  }
}
