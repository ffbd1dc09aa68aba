// How the control plane's push work grows with the mesh: services 1,000 -> 5,000 and sidecars 100 -> 1,000, each
// size in a process of its own (bench/lib/push-model.ts: planning, translation and encoding as `trellis control`
// runs them, without gRPC or a fleet). Reported per size: CPU for the first push, a route change and an endpoint
// change, and the RSS holding every sidecar's snapshot. No peer: Istio's control plane needs Kubernetes.
import { execFileSync } from "node:child_process";

const SIZES: Array<[number, number]> = (process.env.BENCH_CP_GROWTH ?? "1000x100,1000x1000,5000x100,5000x1000").split(",").map((s) => s.split("x").map(Number) as [number, number]);
const ENDPOINTS = 10;

interface Sample {
  services: number;
  proxies: number;
  first: { cpuMs: number; translated: number; rssMiB: number };
  routeChange: { cpuMs: number; translated: number; rssMiB: number };
  endpointChange: { cpuMs: number; translated: number; rssMiB: number };
  cacheEntries: number;
}

export async function cpGrowthScenario(): Promise<unknown> {
  const samples: Sample[] = [];
  for (const [services, proxies] of SIZES) {
    const out = execFileSync(process.execPath, ["--max-old-space-size=4096", "dist/bench/lib/push-model.js", `${services},${proxies},${ENDPOINTS}`], { encoding: "utf8", timeout: 1_200_000 });
    const s = JSON.parse(out.trim().split("\n").pop()!) as Sample;
    samples.push(s);
    console.log(`  ${String(services).padStart(5)} services x ${String(proxies).padStart(4)} sidecars: first push ${s.first.cpuMs.toFixed(0)} CPU ms, route change ${s.routeChange.cpuMs.toFixed(0)} ms (${s.routeChange.translated} translated), endpoint change ${s.endpointChange.cpuMs.toFixed(0)} ms; RSS ${s.endpointChange.rssMiB.toFixed(0)} MiB`);
  }
  const base = samples[0];
  for (const s of samples.slice(1)) {
    const ratio = (f: (x: Sample) => number) => (f(s) / f(base)).toFixed(1);
    console.log(`  ${s.services}x${s.proxies} vs ${base.services}x${base.proxies} (${(s.services / base.services).toFixed(0)}x services, ${(s.proxies / base.proxies).toFixed(0)}x sidecars): first push ${ratio((x) => x.first.cpuMs)}x, route change ${ratio((x) => x.routeChange.cpuMs)}x, endpoint change ${ratio((x) => x.endpointChange.cpuMs)}x, RSS ${ratio((x) => x.endpointChange.rssMiB)}x`);
  }
  return { endpointsPerService: ENDPOINTS, samples };
}
