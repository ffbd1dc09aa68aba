// One measured mesh for the control-plane scenarios: the real control plane (CA on), N services (the fleet's own
// plus generated ServiceEntries), the fleet of simulated sidecars in its own process, and a timed push: a
// VirtualService change every sidecar receives, from the REST write to each sidecar's ACK.
import { type ChildProcess, fork } from "node:child_process";
import { type Control, createAll, hostOf, NAMESPACE, SERVICE_ACCOUNT, serviceEntry, startControl } from "./control-plane.js";
import type { FleetMessage, FleetOptions, WatchKind } from "./ads-fleet.js";
import { cpuSeconds, rssMiB } from "./processes.js";

export interface MeshShape {
  services: number;
  endpointsPerService: number;
  proxies: number;
}

export interface PushSample {
  /** ms from the REST write being sent until the first, the median (50th of 100) and the last sidecar ACKed it. */
  firstMs: number;
  halfMs: number;
  lastMs: number;
  missing: number;
  /** ms until the REST API answered the write. */
  writeMs: number;
  /** Control-plane CPU seconds from the write until the last ACK. */
  cpuSeconds: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  fleetCpuSeconds: number;
}

export interface Mesh {
  control: Control;
  fleet: ChildProcess;
  /** ms for the fleet to connect and hold the whole mesh, and the control plane's CPU seconds meanwhile. */
  sync: { ms: number; cpuSeconds: number; clusters: number; routes: number };
  push(marker: string): Promise<PushSample>;
  /** One endpoint added to svc-0's ServiceEntry (a pod appearing), timed until every sidecar ACKed its EDS. */
  pushEndpoint(round: number): Promise<PushSample>;
}

const PROXY_SERVICES = 10;
const SYNC_TIMEOUT_MS = 600_000;
const PUSH_TIMEOUT_MS = 60_000;
const RSS_EVERY_MS = 20;
const now = () => performance.timeOrigin + performance.now();

/** The resource every push rewrites: a header on the routes to a service every sidecar knows (transparent mode). */
function change(marker: string, resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: "networking.istio.io/v1", kind: "VirtualService",
    metadata: { name: "bench-change", namespace: NAMESPACE, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: { hosts: [hostOf("app-0")], http: [{ headers: { request: { set: { "x-bench-change": marker } } }, route: [{ destination: { host: hostOf("app-0") } }] }] },
  };
}

function next(fleet: ChildProcess, type: FleetMessage["type"], timeoutMs: number): Promise<FleetMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`the ADS fleet sent no "${type}" within ${timeoutMs} ms`)); }, timeoutMs);
    const onMessage = (m: FleetMessage) => {
      if (m.type === "error") { cleanup(); reject(new Error(`ADS fleet: ${m.message}`)); }
      if (m.type === type) { cleanup(); resolve(m); }
    };
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`the ADS fleet exited (${code}) while waiting for "${type}"`)); };
    const cleanup = () => { clearTimeout(timer); fleet.off("message", onMessage); fleet.off("exit", onExit); };
    fleet.on("message", onMessage);
    fleet.once("exit", onExit);
  });
}

export async function withMesh<T>(shape: MeshShape, fn: (mesh: Mesh) => Promise<T>): Promise<T> {
  const control = await startControl();
  let fleet: ChildProcess | undefined;
  try {
    const own = Math.min(PROXY_SERVICES, shape.services, shape.proxies);
    // Config first, fleet second: loading 1,000 ServiceEntries with no proxy connected costs no translation.
    await createAll(control, [change("initial"), ...Array.from({ length: shape.services - own }, (_, i) => serviceEntry(i, shape.endpointsPerService))]);
    const services = Array.from({ length: own }, (_, i) => `app-${i}`);
    const options: FleetOptions = {
      target: `127.0.0.1:${control.ports.xds}`, tokens: Object.fromEntries(services.map((s) => [s, control.tokenFor(s)])), count: shape.proxies, namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT,
      services, expectClusters: shape.services, watchHost: hostOf("app-0"), watchCluster: `outbound|8080||${hostOf("svc-0")}`,
      protocol: process.env.BENCH_XDS_PROTOCOL === "delta" ? "delta" : "sotw",
    };
    const cpu0 = cpuSeconds(control.pid);
    fleet = fork("dist/bench/lib/ads-fleet.js", [JSON.stringify(options)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const synced = await next(fleet, "synced", SYNC_TIMEOUT_MS) as Extract<FleetMessage, { type: "synced" }>;
    const sync = { ms: synced.ms, cpuSeconds: cpuSeconds(control.pid) - cpu0, clusters: synced.clusters, routes: synced.routes };
    const f = fleet;
    const measure = async (marker: string, kind: WatchKind, write: () => Promise<void>): Promise<PushSample> => {
      f.send({ type: "watch", marker, kind, timeoutMs: PUSH_TIMEOUT_MS });
      await next(f, "watching", 10_000);
      const acked = next(f, "acked", PUSH_TIMEOUT_MS + 10_000);
      acked.catch(() => {}); // awaited below; a failed write must not leave it unhandled
      const rssBeforeMiB = rssMiB(control.pid);
      let peakRssMiB = rssBeforeMiB;
      const sampler = setInterval(() => { peakRssMiB = Math.max(peakRssMiB, rssMiB(control.pid)); }, RSS_EVERY_MS);
      const [cpuBefore, fleetBefore] = [cpuSeconds(control.pid), cpuSeconds(f.pid!)];
      const t0 = now();
      try {
        await write();
        const writeMs = now() - t0;
        const out = await acked as Extract<FleetMessage, { type: "acked" }>;
        const cpu = cpuSeconds(control.pid) - cpuBefore;
        peakRssMiB = Math.max(peakRssMiB, rssMiB(control.pid));
        const at = (k: number) => (out.times.length >= k ? out.times[k - 1] - t0 : NaN);
        return { firstMs: at(1), halfMs: at(Math.ceil(shape.proxies / 2)), lastMs: at(shape.proxies), missing: out.missing, writeMs, cpuSeconds: cpu, rssBeforeMiB, peakRssMiB, fleetCpuSeconds: cpuSeconds(f.pid!) - fleetBefore };
      } finally {
        clearInterval(sampler);
      }
    };
    const path = (plural: string, name: string) => `/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/${plural}/${name}`;
    const push = async (marker: string): Promise<PushSample> => {
      const current = await control.api("GET", path("virtualservices", "bench-change"));
      const version = (current.body.metadata as { resourceVersion: string }).resourceVersion;
      return measure(marker, "route", async () => {
        const res = await control.api("PUT", path("virtualservices", "bench-change"), change(marker, version));
        if (res.status !== 200) throw new Error(`PUT VirtualService bench-change: ${res.status} ${String(res.body.message)}`);
      });
    };
    const pushEndpoint = async (round: number): Promise<PushSample> => {
      const current = await control.api("GET", path("serviceentries", "svc-0"));
      const entry = current.body as { metadata: Record<string, unknown>; spec: { endpoints: Array<Record<string, unknown>> } };
      // An address no other endpoint has: the marker the fleet looks for in svc-0's endpoints.
      const address = `127.6.${round >> 8}.${round & 255}`;
      entry.spec.endpoints = [...entry.spec.endpoints, { address, labels: { app: "svc-0", shard: `added-${round}` } }];
      return measure(`"${address}"`, "endpoint", async () => {
        const res = await control.api("PUT", path("serviceentries", "svc-0"), entry);
        if (res.status !== 200) throw new Error(`PUT ServiceEntry svc-0: ${res.status} ${String(res.body.message)}`);
      });
    };
    return await fn({ control, fleet, sync, push, pushEndpoint });
  } finally {
    if (fleet && fleet.exitCode === null) {
      const exited = new Promise((r) => fleet!.once("exit", r));
      if (fleet.connected) fleet.send({ type: "close" });
      const timer = setTimeout(() => fleet!.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await control.stop();
  }
}
