// Kubernetes mode at scale: the real kube-apiserver, etcd and kube-controller-manager (test/fixtures/kube), 1,000
// Services with 10,000 endpoints (EndpointSlices written through the API server), 100 simulated sidecars (real ADS,
// one process) matched to 100 pods; timed from a VirtualService write to the API server until the 100th ACK, with the
// control plane's memory and the API server's own CPU. Targets (issue #16): under 1 s, under 500 MB. No peer: istiod
// would need images and a container runtime.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKubeCluster, type KubeCluster } from "../../test/fixtures/kube/cluster.js";
import type { LoggedProcess } from "../../test/fixtures/kube/logged-process.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import type { FleetMessage, FleetOptions } from "../lib/ads-fleet.js";
import { CLI } from "../lib/control-plane.js";
import { cpuSeconds, freePort, type Proc, rssMiB, start, waitForPort } from "../lib/processes.js";
import { ROUNDS } from "../lib/settings.js";
import { fmt, spread } from "../lib/stats.js";

const SERVICES = Number(process.env.BENCH_KUBE_SERVICES ?? 1000);
const ENDPOINTS_PER_SERVICE = 10;
const PROXIES = 100;
const APPS = 10;
const NS = "bench";
const TARGET_MS = 1000;
const TARGET_MIB = 500;
const now = () => performance.timeOrigin + performance.now();
const host = (name: string) => `${name}.${NS}.svc.cluster.local`;

/** Runs `fn` over items, `width` at a time. */
async function batched<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

function change(marker: string, resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: "networking.istio.io/v1", kind: "VirtualService",
    metadata: { name: "bench-change", namespace: NS, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: { hosts: [host("app-0")], http: [{ headers: { request: { set: { "x-bench-change": marker } } }, route: [{ destination: { host: host("app-0") } }] }] },
  };
}

/**
 * The mesh through the API server: 1,000 selector-less Services with one 10-endpoint slice each (headless: the test
 * cluster's service range holds 254 addresses; Trellis builds the same EDS clusters for them), and 10 app Services
 * with 100 running pods.
 */
async function populate(client: KubeClient): Promise<number> {
  const t0 = now();
  await client.request("POST", "/api/v1/namespaces", { body: { metadata: { name: NS } } });
  // The endpointslice controller leaves out pods whose Node does not exist.
  await client.request("POST", "/api/v1/nodes", { body: { metadata: { name: "bench-node" } } });
  for (let i = 0; !(await client.find(`/api/v1/namespaces/${NS}/serviceaccounts/default`)); i++) {
    if (i > 300) throw new Error("the serviceaccount controller made no default ServiceAccount in 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  const ids = Array.from({ length: SERVICES }, (_, i) => i);
  await batched(ids, 16, async (i) => {
    await client.request("POST", `/api/v1/namespaces/${NS}/services`, { body: { metadata: { name: `svc-${i}` }, spec: { clusterIP: "None", ports: [{ name: "http", port: 8080 }] } } });
    await client.request("POST", `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, { body: {
      metadata: { name: `svc-${i}-1`, labels: { "kubernetes.io/service-name": `svc-${i}`, "endpointslice.kubernetes.io/managed-by": "trellis-bench" } },
      addressType: "IPv4", ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      endpoints: Array.from({ length: ENDPOINTS_PER_SERVICE }, (_, e) => ({ addresses: [`10.100.${i >> 4}.${((i & 15) << 4) + e}`], conditions: { ready: true } })),
    } });
  });
  await batched(Array.from({ length: APPS }, (_, i) => i), 10, (i) => client.request("POST", `/api/v1/namespaces/${NS}/services`, { body: { metadata: { name: `app-${i}` }, spec: { selector: { app: `app-${i}` }, ports: [{ name: "http", port: 8080 }] } } }));
  await batched(Array.from({ length: PROXIES }, (_, i) => i), 16, async (i) => {
    const name = `app-${i % APPS}-${i}`;
    const ip = `10.245.${i >> 8}.${i & 255}`;
    await client.request("POST", `/api/v1/namespaces/${NS}/pods`, { body: { metadata: { name, labels: { app: `app-${i % APPS}`, version: "v1" } }, spec: { nodeName: "bench-node", containers: [{ name: "app", image: "trellis/bench" }] } } });
    await client.request("PATCH", `/api/v1/namespaces/${NS}/pods/${name}/status`, { contentType: "application/merge-patch+json", body: { status: { phase: "Running", podIP: ip, podIPs: [{ ip }], conditions: [{ type: "Ready", status: "True" }] } } });
  });
  await client.request("POST", `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`, { body: change("initial") });
  return now() - t0;
}

function next(fleet: ChildProcess, type: FleetMessage["type"], timeoutMs: number): Promise<FleetMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`the ADS fleet sent no "${type}" within ${timeoutMs} ms`)); }, timeoutMs);
    const onMessage = (m: FleetMessage) => {
      if (m.type === "error") { cleanup(); reject(new Error(`ADS fleet: ${m.message}`)); }
      if (m.type === type) { cleanup(); resolve(m); }
    };
    const cleanup = () => { clearTimeout(timer); fleet.off("message", onMessage); };
    fleet.on("message", onMessage);
  });
}

export async function kubePushScenario(): Promise<unknown> {
  const started = await startKubeCluster();
  if (!started.ok) {
    console.log(`  skipped: ${started.reason}`);
    return { skipped: started.reason };
  }
  const cluster: KubeCluster = started.cluster;
  const apiserverPid = () => (cluster as unknown as { apiserver: LoggedProcess }).apiserver.child!.pid!;
  const client = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
  const stateDir = mkdtempSync(join(tmpdir(), "trellis-bench-kube-"));
  let control: Proc | undefined;
  let fleet: ChildProcess | undefined;
  try {
    await installCrds(client, loadCrds());
    const populateMs = await populate(client);
    console.log(`  ${SERVICES} Services, ${SERVICES * ENDPOINTS_PER_SERVICE} endpoints, ${PROXIES} pods written through the API server in ${(populateMs / 1000).toFixed(1)} s`);
    const ports = { xds: await freePort(), api: await freePort() };
    control = start("trellis-control", process.execPath, [CLI, "control", "--kubeconfig", cluster.adminKubeconfig, "--state-dir", stateDir, "--xds-port", String(ports.xds), "--api-port", String(ports.api), "--otlp-port", "0", "--console-port", "0"]);
    await waitForPort(ports.api, 120_000);
    const pid = control.child.pid!;
    const options: FleetOptions = {
      target: `127.0.0.1:${ports.xds}`, tokens: {}, count: PROXIES, namespace: NS, serviceAccount: "default", ipPrefix: "10.245",
      services: Array.from({ length: APPS }, (_, i) => `app-${i}`), expectClusters: SERVICES + APPS, watchHost: host("app-0"),
    };
    const [cpu0, api0, t0] = [cpuSeconds(pid), cpuSeconds(apiserverPid()), now()];
    fleet = fork("dist/bench/lib/ads-fleet.js", [JSON.stringify(options)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const synced = await next(fleet, "synced", 600_000) as Extract<FleetMessage, { type: "synced" }>;
    console.log(`  ${PROXIES} sidecars synced in ${(now() - t0).toFixed(0)} ms (${synced.clusters} outbound clusters each); control CPU ${(cpuSeconds(pid) - cpu0).toFixed(2)} s, API server CPU ${(cpuSeconds(apiserverPid()) - api0).toFixed(2)} s, control RSS ${rssMiB(pid).toFixed(0)} MiB`);
    const samples: Array<{ lastMs: number; firstMs: number; missing: number; rssMiB: number; peakRssMiB: number; controlCpu: number; apiserverCpu: number }> = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const current = await client.get(`/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/bench-change`);
      const marker = `round-${round}-${Date.now()}`;
      fleet.send({ type: "watch", marker, timeoutMs: 60_000 });
      await next(fleet, "watching", 10_000);
      const acked = next(fleet, "acked", 70_000);
      let peak = rssMiB(pid);
      const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(pid)); }, 20);
      const [c0, a0, w0] = [cpuSeconds(pid), cpuSeconds(apiserverPid()), now()];
      await client.request("PUT", `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/bench-change`, { body: change(marker, current.metadata.resourceVersion) });
      const out = await acked as Extract<FleetMessage, { type: "acked" }>;
      clearInterval(sampler);
      const s = { firstMs: out.times[0] - w0, lastMs: out.times.length === PROXIES ? out.times[PROXIES - 1] - w0 : NaN, missing: out.missing, rssMiB: rssMiB(pid), peakRssMiB: Math.max(peak, rssMiB(pid)), controlCpu: cpuSeconds(pid) - c0, apiserverCpu: cpuSeconds(apiserverPid()) - a0 };
      // Round 0 warms the translation paths up and is not counted.
      if (round > 0) samples.push(s);
      console.log(`  ${round === 0 ? "warm-up" : `round ${round}/${ROUNDS}`}: 1st ACK ${s.firstMs.toFixed(0)} ms, 100th ${s.lastMs.toFixed(0)} ms${s.missing ? ` (${s.missing} never ACKed)` : ""}; control CPU ${s.controlCpu.toFixed(2)} s, peak RSS ${s.peakRssMiB.toFixed(0)} MiB; API server CPU ${s.apiserverCpu.toFixed(2)} s`);
    }
    const last = spread(samples.map((s) => s.lastMs));
    const peakRss = spread(samples.map((s) => s.peakRssMiB));
    const apiCpu = spread(samples.map((s) => s.apiserverCpu));
    console.log(`\n  ${"services".padEnd(9)} ${"endpoints".padEnd(10)} ${"100th ACK ms".padEnd(20)} ${"control peak RSS MiB".padEnd(22)} API server CPU s per push`);
    console.log(`  ${String(SERVICES).padEnd(9)} ${String(SERVICES * ENDPOINTS_PER_SERVICE).padEnd(10)} ${fmt(last, 0).padEnd(20)} ${fmt(peakRss, 0).padEnd(22)} ${fmt(apiCpu, 2)}`);
    console.log(`  targets: 100th ACK under ${TARGET_MS} ms: ${last.median < TARGET_MS ? "met" : "not met"}; control memory under ${TARGET_MIB} MB: ${peakRss.median * 1.048576 < TARGET_MIB ? "met" : "not met"}`);
    return { services: SERVICES, endpoints: SERVICES * ENDPOINTS_PER_SERVICE, proxies: PROXIES, populateMs, sync: { ms: synced.ms }, samples, summary: { lastMs: last, peakRssMiB: peakRss, apiserverCpuSeconds: apiCpu } };
  } finally {
    if (fleet && fleet.exitCode === null) {
      const exited = new Promise((r) => fleet!.once("exit", r));
      if (fleet.connected) fleet.send({ type: "close" });
      const timer = setTimeout(() => fleet!.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await control?.stop();
    client.close();
    await cluster.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
