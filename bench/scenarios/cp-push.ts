// How fast a config change reaches the mesh: from the REST write of a VirtualService (what `trellis apply` sends)
// until 100 simulated sidecars (real ADS in a process of their own) have ACKed it, at 10 and 100 services by default.
// The 1,000-service push is measured by cp-scale (1,000 services with 10,000 endpoints, the harder shape), so a full
// `npm run bench` syncs a 1,000-service mesh once; BENCH_CP_SERVICES=10,100,1000 runs it here too.
// No peer runs here (Istio's control plane needs Kubernetes): the figure is read against the issue's target, under
// 1 s to 100 proxies at 1,000 services.
import { type MeshShape, type PushSample, withMesh } from "../lib/control-mesh.js";
import { ROUNDS } from "../lib/settings.js";
import { fmt, type Spread, spread } from "../lib/stats.js";

const SIZES = (process.env.BENCH_CP_SERVICES ?? "10,100").split(",").map(Number);
const PROXIES = 100;
const TARGET_MS = 1000;

export function pushSummary(samples: PushSample[]): Record<string, Spread> {
  const pick = (f: (s: PushSample) => number) => spread(samples.map(f));
  return {
    firstMs: pick((s) => s.firstMs), halfMs: pick((s) => s.halfMs), lastMs: pick((s) => s.lastMs), writeMs: pick((s) => s.writeMs),
    cpuSeconds: pick((s) => s.cpuSeconds), peakRssMiB: pick((s) => s.peakRssMiB), fleetCpuSeconds: pick((s) => s.fleetCpuSeconds),
  };
}

export function printPushRow(label: string, s: Record<string, Spread>): void {
  console.log(`  ${label.padEnd(14)} ${fmt(s.firstMs, 0).padEnd(20)} ${fmt(s.halfMs, 0).padEnd(20)} ${fmt(s.lastMs, 0).padEnd(20)} ${fmt(s.cpuSeconds, 2).padEnd(18)} ${fmt(s.peakRssMiB, 0)}`);
}

export const PUSH_HEADER = `  ${"services".padEnd(14)} ${"1st ACK ms".padEnd(20)} ${"50th ACK ms".padEnd(20)} ${"100th ACK ms".padEnd(20)} ${"control CPU s".padEnd(18)} control peak RSS MiB`;

export async function cpPushScenario(): Promise<unknown> {
  const results: Record<string, unknown> = {};
  const summaries: Record<string, Record<string, Spread>> = {};
  for (const services of SIZES) {
    const shape: MeshShape = { services, endpointsPerService: 1, proxies: PROXIES };
    const out = await withMesh(shape, async (mesh) => {
      console.log(`  ${services} services: ${PROXIES} sidecars connected and synced in ${mesh.sync.ms.toFixed(0)} ms (control CPU ${mesh.sync.cpuSeconds.toFixed(2)} s; ${mesh.sync.clusters} outbound clusters, ${mesh.sync.routes} routes each)`);
      // One push unmeasured: the first change after sync runs translation paths cold.
      await mesh.push(`warmup-${services}`);
      const samples: PushSample[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const s = await mesh.push(`round-${services}-${round}`);
        samples.push(s);
        console.log(`  round ${round + 1}/${ROUNDS} ${String(services).padStart(5)} services: ACKs 1st ${s.firstMs.toFixed(0)} ms, 50th ${s.halfMs.toFixed(0)} ms, 100th ${s.lastMs.toFixed(0)} ms${s.missing ? ` (${s.missing} never ACKed)` : ""}; write answered in ${s.writeMs.toFixed(1)} ms; control CPU ${s.cpuSeconds.toFixed(2)} s, RSS ${s.rssBeforeMiB.toFixed(0)} -> peak ${s.peakRssMiB.toFixed(0)} MiB; fleet CPU ${s.fleetCpuSeconds.toFixed(2)} s`);
      }
      return { sync: mesh.sync, samples };
    });
    summaries[services] = pushSummary(out.samples);
    results[services] = { ...out, summary: summaries[services] };
  }
  console.log(`\n  a VirtualService change to ${PROXIES} sidecars (real ADS, one process), median (min–max) over ${ROUNDS} rounds; no peer: Istio cannot run here`);
  console.log(PUSH_HEADER);
  for (const [services, s] of Object.entries(summaries)) printPushRow(services, s);
  const at1000 = summaries[1000];
  const target = at1000 ? { lastMs: at1000.lastMs.median, targetMs: TARGET_MS, met: at1000.lastMs.median < TARGET_MS } : undefined;
  if (target) console.log(`  target (issue #8): a change reaches 100 proxies in under ${TARGET_MS} ms at 1,000 services: ${target.lastMs.toFixed(0)} ms, ${target.met ? "met" : "not met"}`);
  return { rounds: ROUNDS, proxies: PROXIES, endpointsPerService: 1, results, target };
}
