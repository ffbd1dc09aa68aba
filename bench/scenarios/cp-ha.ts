// Replicas on etcd (issue #23): a VirtualService change written through one replica until 100 simulated sidecars
// spread over three replicas (real ADS, a fleet process per replica, each fleet given all three addresses with its
// own first) have ACKed it, against the same change on one control plane with the embedded file store (cp-push's
// mesh); then failover: one replica SIGKILLed and a change written through another at once, until every sidecar
// that was on the killed one has ACKed it from another replica. No peer: Istio's control plane needs Kubernetes.
import { type ChildProcess, fork } from "node:child_process";
import type { FleetMessage, FleetOptions } from "../lib/ads-fleet.js";
import { withMesh, type PushSample } from "../lib/control-mesh.js";
import { hostOf, NAMESPACE, SERVICE_ACCOUNT } from "../lib/control-plane.js";
import { startReplicaSet, type ReplicaSet } from "../lib/replica-set.js";
import { ROUNDS } from "../lib/settings.js";
import { fmt, spread } from "../lib/stats.js";

const PROXIES = 100;
const SERVICES = 10;
const REPLICAS = 3;
const TIMEOUT_MS = 120_000;
const now = () => performance.timeOrigin + performance.now();

function change(marker: string, resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: "networking.istio.io/v1", kind: "VirtualService",
    metadata: { name: "bench-change", namespace: NAMESPACE, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: { hosts: [hostOf("app-0")], http: [{ headers: { request: { set: { "x-bench-change": marker } } }, route: [{ destination: { host: hostOf("app-0") } }] }] },
  };
}

function next<T extends FleetMessage["type"]>(fleet: ChildProcess, type: T): Promise<Extract<FleetMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`an ADS fleet sent no "${type}" within ${TIMEOUT_MS} ms`)); }, TIMEOUT_MS + 10_000);
    const onMessage = (m: FleetMessage) => {
      if (m.type === "error") { cleanup(); reject(new Error(`ADS fleet: ${m.message}`)); }
      if (m.type === type) { cleanup(); resolve(m as Extract<FleetMessage, { type: T }>); }
    };
    const cleanup = () => { clearTimeout(timer); fleet.off("message", onMessage); };
    fleet.on("message", onMessage);
  });
}

/** Writes the change through replica `via` and returns each watching fleet's ACK times, measured from `t0` (default: the write). */
async function push(set: ReplicaSet, fleets: ChildProcess[], via: number, marker: string, t0?: number): Promise<{ times: number[]; missing: number; writeMs: number }> {
  const current = await set.api(via, "GET", `/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/virtualservices/bench-change`);
  const version = (current.body.metadata as { resourceVersion: string }).resourceVersion;
  const watching = fleets.map((f) => next(f, "watching"));
  for (const f of fleets) f.send({ type: "watch", marker, timeoutMs: TIMEOUT_MS });
  await Promise.all(watching);
  const acked = fleets.map((f) => next(f, "acked"));
  const start = t0 ?? now();
  const res = await set.api(via, "PUT", `/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/virtualservices/bench-change`, change(marker, version));
  const writeMs = now() - start;
  if (res.status !== 200) throw new Error(`PUT bench-change through replica ${via}: ${res.status} ${String(res.body.message)}`);
  const outs = await Promise.all(acked);
  return { times: outs.flatMap((o) => o.times.map((t) => t - start)).sort((a, b) => a - b), missing: outs.reduce((n, o) => n + o.missing, 0), writeMs };
}

async function etcdReplicas(): Promise<{ samples: PushSample[]; failover: { ms: number; sidecars: number; missing: number } }> {
  const set = await startReplicaSet(REPLICAS);
  const fleets: ChildProcess[] = [];
  try {
    const services = Array.from({ length: SERVICES }, (_, i) => `app-${i}`);
    const created = await set.api(0, "POST", `/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/virtualservices`, change("initial"));
    if (created.status !== 201) throw new Error(`creating bench-change: ${created.status} ${String(created.body.message)}`);
    const tokens = Object.fromEntries(services.map((s) => [s, set.tokenFor(s)]));
    const t0 = now();
    for (let k = 0; k < REPLICAS; k++) {
      const targets = set.replicas.map((_, i) => `127.0.0.1:${set.replicas[(i + k) % REPLICAS].xds}`).join(",");
      const count = Math.floor(PROXIES / REPLICAS) + (k < PROXIES % REPLICAS ? 1 : 0);
      const options: FleetOptions = { target: targets, tokens, count, namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT, services, expectClusters: SERVICES, watchHost: hostOf("app-0"), ipPrefix: `127.${4 + k}` };
      fleets.push(fork("dist/bench/lib/ads-fleet.js", [JSON.stringify(options)], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    }
    await Promise.all(fleets.map((f) => next(f, "synced")));
    console.log(`  etcd, ${REPLICAS} replicas: ${PROXIES} sidecars (${fleets.length} fleets, one per replica) connected and synced in ${(now() - t0).toFixed(0)} ms`);
    await push(set, fleets, 0, "warmup");
    const samples: PushSample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const via = round % REPLICAS;
      const out = await push(set, fleets, via, `round-${round}`);
      const at = (k: number) => out.times[k - 1] ?? NaN;
      samples.push({ firstMs: at(1), halfMs: at(PROXIES / 2), lastMs: at(PROXIES), missing: out.missing, writeMs: out.writeMs, cpuSeconds: NaN, rssBeforeMiB: NaN, peakRssMiB: NaN, fleetCpuSeconds: NaN });
      console.log(`  round ${round + 1}/${ROUNDS} etcd, written through replica ${via}: ACKs 1st ${at(1).toFixed(0)} ms, 50th ${at(PROXIES / 2).toFixed(0)} ms, 100th ${at(PROXIES).toFixed(0)} ms${out.missing ? ` (${out.missing} never ACKed)` : ""}; write answered in ${out.writeMs.toFixed(1)} ms`);
    }
    // Failover: the replica fleet 2 prefers dies; a change goes in through replica 0 at once.
    const killed = now();
    set.replicas[2].proc.child.kill("SIGKILL");
    const out = await push(set, [fleets[2]], 0, "failover", killed);
    const failover = { ms: out.times.at(-1) ?? NaN, sidecars: out.times.length, missing: out.missing };
    console.log(`  failover: replica 2 killed; its ${failover.sidecars} sidecars ACKed a change from another replica ${failover.ms.toFixed(0)} ms after the kill${failover.missing ? ` (${failover.missing} never did)` : ""}`);
    return { samples, failover };
  } finally {
    for (const f of fleets) {
      if (f.exitCode !== null) continue;
      const exited = new Promise((r) => f.once("exit", r));
      if (f.connected) f.send({ type: "close" });
      const timer = setTimeout(() => f.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await set.stop();
  }
}

async function fileStore(): Promise<PushSample[]> {
  return withMesh({ services: SERVICES, endpointsPerService: 1, proxies: PROXIES }, async (mesh) => {
    await mesh.push("warmup");
    const samples: PushSample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const s = await mesh.push(`file-${round}`);
      samples.push(s);
      console.log(`  round ${round + 1}/${ROUNDS} file store, one control plane: ACKs 1st ${s.firstMs.toFixed(0)} ms, 50th ${s.halfMs.toFixed(0)} ms, 100th ${s.lastMs.toFixed(0)} ms`);
    }
    return samples;
  });
}

export async function cpHaScenario(): Promise<unknown> {
  const file = await fileStore();
  const ha = await etcdReplicas();
  const row = (label: string, s: PushSample[]) => console.log(`  ${label.padEnd(34)} ${fmt(spread(s.map((x) => x.firstMs)), 0).padEnd(20)} ${fmt(spread(s.map((x) => x.halfMs)), 0).padEnd(20)} ${fmt(spread(s.map((x) => x.lastMs)), 0).padEnd(20)} ${fmt(spread(s.map((x) => x.writeMs)), 1)}`);
  console.log(`\n  a VirtualService change to ${PROXIES} sidecars at ${SERVICES} services, median (min–max) over ${ROUNDS} rounds`);
  console.log(`  ${"store".padEnd(34)} ${"1st ACK ms".padEnd(20)} ${"50th ACK ms".padEnd(20)} ${"100th ACK ms".padEnd(20)} write answered ms`);
  row("file, one control plane", file);
  row(`etcd, ${REPLICAS} replicas (1 etcd member)`, ha.samples);
  console.log(`  failover: a replica SIGKILLed; its ${ha.failover.sidecars} sidecars ACKed a change through another replica ${ha.failover.ms.toFixed(0)} ms after the kill`);
  return { proxies: PROXIES, services: SERVICES, replicas: REPLICAS, rounds: ROUNDS, file, etcd: ha.samples, failover: ha.failover };
}
