// The control plane's memory and CPU at scale: 1,000 services and 10,000 endpoints (990 ServiceEntries with 10
// static endpoints each, plus the 100 simulated sidecars' own), with the 100 sidecars connected over real ADS; idle,
// then during a push of a VirtualService change to all of them. No peer runs here: the figures are read against the
// issue's target (under 500 MB at 1,000 services) and Istio's published istiod figures (1 vCPU and 1.5 GB at 1,000
// services and 2,000 sidecars).
import { type MeshShape, type PushSample, withMesh } from "../lib/control-mesh.js";
import { cpuSeconds, rssMiB } from "../lib/processes.js";
import { ROUNDS } from "../lib/settings.js";
import { fmt, type Spread, spread } from "../lib/stats.js";
import { printPushRow, PUSH_HEADER, pushSummary } from "./cp-push.js";

const SHAPE: MeshShape = { services: 1000, endpointsPerService: 10, proxies: 100 };
const SETTLE_MS = 3000;
const IDLE_MS = 10_000;
const TARGET_MB = 500;
const ENDPOINT_TARGET_MS = 200;

export async function cpScaleScenario(): Promise<unknown> {
  const endpoints = (SHAPE.services - 10) * SHAPE.endpointsPerService + SHAPE.proxies;
  return withMesh(SHAPE, async (mesh) => {
    const pid = mesh.control.pid;
    console.log(`  ${SHAPE.services} services, ${endpoints} endpoints: ${SHAPE.proxies} sidecars connected and synced in ${mesh.sync.ms.toFixed(0)} ms (control CPU ${mesh.sync.cpuSeconds.toFixed(2)} s)`);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const cpu0 = cpuSeconds(pid);
    const started = performance.now();
    let idlePeak = rssMiB(pid);
    const sampler = setInterval(() => { idlePeak = Math.max(idlePeak, rssMiB(pid)); }, 100);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    clearInterval(sampler);
    const idle = { rssMiB: rssMiB(pid), peakRssMiB: idlePeak, cores: (cpuSeconds(pid) - cpu0) / ((performance.now() - started) / 1000) };
    console.log(`  idle over ${IDLE_MS / 1000} s: RSS ${idle.rssMiB.toFixed(0)} MiB (peak ${idle.peakRssMiB.toFixed(0)}), CPU ${(idle.cores * 100).toFixed(1)}% of a core`);
    const samples: PushSample[] = [];
    await mesh.push("scale-warmup");
    for (let round = 0; round < ROUNDS; round++) {
      const s = await mesh.push(`scale-${round}`);
      samples.push(s);
      console.log(`  push ${round + 1}/${ROUNDS}: ACKs 1st ${s.firstMs.toFixed(0)} ms, 50th ${s.halfMs.toFixed(0)} ms, 100th ${s.lastMs.toFixed(0)} ms; control CPU ${s.cpuSeconds.toFixed(2)} s (${(s.cpuSeconds / (s.lastMs / 1000) * 100).toFixed(0)}% of a core while it lasted), RSS ${s.rssBeforeMiB.toFixed(0)} -> peak ${s.peakRssMiB.toFixed(0)} MiB`);
    }
    // An endpoint change (one address added to a ServiceEntry, as a pod appearing): an EDS-only push.
    const endpointSamples: PushSample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const s = await mesh.pushEndpoint(round + 1);
      endpointSamples.push(s);
      console.log(`  endpoint ${round + 1}/${ROUNDS}: ACKs 1st ${s.firstMs.toFixed(0)} ms, 50th ${s.halfMs.toFixed(0)} ms, 100th ${s.lastMs.toFixed(0)} ms; control CPU ${s.cpuSeconds.toFixed(2)} s, RSS ${s.rssBeforeMiB.toFixed(0)} -> peak ${s.peakRssMiB.toFixed(0)} MiB`);
    }
    const endpoint = pushSummary(endpointSamples);
    const summary: Record<string, Spread> = { ...pushSummary(samples), coresDuringPush: spread(samples.map((s) => s.cpuSeconds / (s.lastMs / 1000))) };
    console.log(`\n  control plane at ${SHAPE.services} services, ${endpoints} endpoints, ${SHAPE.proxies} sidecars (real ADS); median (min–max) over ${ROUNDS} pushes; no peer: Istio cannot run here`);
    console.log(`  idle: RSS ${idle.rssMiB.toFixed(0)} MiB, CPU ${(idle.cores * 100).toFixed(1)}% of a core`);
    console.log(PUSH_HEADER);
    printPushRow(String(SHAPE.services), summary);
    printPushRow("endpoint", endpoint);
    console.log(`  during a push: ${fmt(summary.coresDuringPush, 2)} cores`);
    const peakMB = (Math.max(idle.peakRssMiB, summary.peakRssMiB.max, endpoint.peakRssMiB.max) * 2 ** 20) / 1e6;
    const target = { peakMB, targetMB: TARGET_MB, met: peakMB < TARGET_MB };
    console.log(`  target (issue #8): under ${TARGET_MB} MB at 1,000 services: peak ${peakMB.toFixed(0)} MB, ${target.met ? "met" : "not met"}; Istio's istiod: 1 vCPU and 1.5 GB at 1,000 services and 2,000 sidecars (its published figure, not measured here)`);
    const endpointTarget = { lastMs: endpoint.lastMs.median, targetMs: ENDPOINT_TARGET_MS, met: endpoint.lastMs.median < ENDPOINT_TARGET_MS };
    console.log(`  target (issue #20): an endpoint change ACKed by the 100th sidecar in under ${ENDPOINT_TARGET_MS} ms: ${endpointTarget.lastMs.toFixed(0)} ms, ${endpointTarget.met ? "met" : "not met"}`);
    return { shape: SHAPE, endpoints, rounds: ROUNDS, sync: mesh.sync, idleMs: IDLE_MS, idle, summary, samples, endpoint, endpointSamples, target, endpointTarget };
  });
}
