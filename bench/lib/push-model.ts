// The control plane's push work alone, in a process of its own for one mesh size: the push planner, translation and
// snapshot encoding for P transparent sidecars (10 apps) over S services (ServiceEntries with E endpoints each), as
// `trellis control` runs them, without gRPC or a fleet decoding the result. It prints one JSON line: CPU ms and
// the RSS for the first push, a route change, an endpoint change. Used by cp-growth to show how the work grows.
import { PushPlanner } from "../../src/control/push/push-planner.js";
import { workloadFromNode, type Workload } from "../../src/control/registry/registry.js";
import { SnapshotEncoder } from "../../src/control/snapshot-encoder.js";
import { translate } from "../../src/control/translate/translate.js";
import type { IstioResource } from "../../src/api/resource.js";

const [S, P, E] = (process.argv[2] ?? "1000,100,10").split(",").map(Number);
const NS = "bench";
const host = (s: string) => `${s}.${NS}.svc.cluster.local`;
const entry = (i: number, extra = 0): IstioResource => ({
  apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: `svc-${i}`, namespace: NS },
  spec: { hosts: [host(`svc-${i}`)], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 8080, name: "http", protocol: "HTTP" }], endpoints: Array.from({ length: E + extra }, (_, e) => ({ address: `127.3.${(i >> 8) & 255}.${(i + e) & 255}`, labels: { shard: String(e) } })) },
});
const route = (marker: string): IstioResource => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "bench-change", namespace: NS }, spec: { hosts: [host("app-0")], http: [{ headers: { request: { set: { "x-bench-change": marker } } }, route: [{ destination: { host: host("app-0") } }] }] } });
const proxies: Workload[] = Array.from({ length: P }, (_, i) => {
  const s = `app-${i % 10}`;
  const ip = `127.2.${i >> 8}.${i & 255}`;
  return workloadFromNode(`sidecar~${ip}~${s}-${i}.${NS}~${NS}.svc.cluster.local`, { NAMESPACE: NS, WORKLOAD_NAME: `${s}-${i}`, SERVICE: s, LABELS: { app: s, version: "v1" }, SERVICE_ACCOUNT: "bench", INSTANCE_IP: ip, INBOUND_PORT: 15006, APP_PORT: 8080, SERVICE_PORTS: [{ port: 8080, name: "http", protocol: "HTTP" }], INTERCEPTION_MODE: "REDIRECT", READY: true, MTLS_READY: true }).workload!;
});
const tracing = { samplingPercent: 1, collector: { address: "127.0.0.1", port: 4318 } };
const planner = new PushPlanner();
const encoder = new SnapshotEncoder();
// Snapshots are kept, as the ADS server keeps them: they are most of the memory.
const held = new Map<string, unknown>();
let resources: IstioResource[] = [route("initial"), ...Array.from({ length: S - 10 }, (_, i) => entry(i))];

function push(): { cpuMs: number; translated: number; rssMiB: number } {
  const c0 = process.cpuUsage();
  const { index, changes } = planner.plan(resources, proxies);
  encoder.nextGeneration();
  let translated = 0;
  for (const p of proxies) {
    if (!planner.affects(p.id, p, changes, false)) continue;
    const hosts = new Set<string>();
    held.set(p.id, encoder.snapshot(translate({ resources, workloads: proxies, proxy: p, index, hostsConsidered: hosts, tracing }), []));
    planner.configuredAs(p.id, p, hosts);
    translated++;
  }
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, translated, rssMiB: process.memoryUsage().rss / 2 ** 20 };
}

const first = push();
resources = [route("changed"), ...resources.slice(1)];
const routeChange = push();
resources = [resources[0], entry(0, 1), ...resources.slice(2)];
const endpointChange = push();
console.log(JSON.stringify({ services: S, proxies: P, endpointsPerService: E, first, routeChange, endpointChange, cacheEntries: planner.cache.size() }));
