// One Trellis proxy in this process (plaintext, one route) in front of an in-process 1 KB backend, driven by N
// sequential keep-alive requests: what the proxy allocates per request (V8's sampling heap profiler, counting objects
// young GC already collected, attributed to the innermost frame under dist/src/) and scavenges per 1,000 requests
// with or without the proxy. Allocation does not depend on how loaded the machine is, unlike latency; run by
// bench/scenarios/proxy-alloc.ts with a fixed 1 MiB young generation so scavenges count megabytes.
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { Session } from "node:inspector";
import { PerformanceObserver } from "node:perf_hooks";
import { parseMessage } from "../../src/xds/resource.js";
import type { Bootstrap__Output } from "../../src/xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import { startProxy } from "../../src/proxy/bootstrap.js";

const opts = JSON.parse(process.argv[2] ?? "{}") as { requests?: number; direct?: boolean; top?: number };
const N = opts.requests ?? 3000;
const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

const body = Buffer.alloc(1024, 97);
const backend = createServer((_req, res) => { res.writeHead(200, { "content-type": "text/plain" }); res.end(body); });
await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
const backendPort = (backend.address() as AddressInfo).port;
const parsed = parseMessage<Bootstrap__Output>("envoy.config.bootstrap.v3.Bootstrap", {
  node: { id: "alloc", cluster: "alloc" },
  static_resources: {
    listeners: [{ name: "l", address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: {
      "@type": HCM, stat_prefix: "l", route_config: { virtual_hosts: [{ name: "a", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "be" } }] }] },
      http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
    } }] }] }],
    clusters: [{ name: "be", type: "STATIC", connect_timeout: "1s", load_assignment: { cluster_name: "be", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: backendPort } } } }] }] } }],
  },
});
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const proxy = await startProxy(parsed.value, { drainTimeoutMs: 0 });
const port = opts.direct ? backendPort : proxy.proxy.listenerAddresses()[0].port;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const one = () => new Promise<void>((resolve, reject) => {
  const r = request({ host: "127.0.0.1", port, path: "/", agent }, (m) => { m.resume(); m.on("end", resolve); });
  r.on("error", reject);
  r.end();
});

for (let i = 0; i < 1000; i++) await one(); // compiled hot path, pools warm
let scavenges = 0, gcPauseMs = 0, gcMaxMs = 0;
const observer = new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    scavenges++;
    gcPauseMs += e.duration;
    gcMaxMs = Math.max(gcMaxMs, e.duration);
  }
});
observer.observe({ entryTypes: ["gc"] });
const cpu0 = process.cpuUsage();
for (let i = 0; i < N; i++) await one();
const cpu = process.cpuUsage(cpu0);
await new Promise((r) => setImmediate(r));
observer.disconnect();

const session = new Session();
session.connect();
const post = <T>(method: string, params?: object) => new Promise<T>((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r as T))));
await post("HeapProfiler.enable");
await post("HeapProfiler.startSampling", { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
for (let i = 0; i < N; i++) await one();
const { profile } = await post<{ profile: { head: ProfileNode } }>("HeapProfiler.stopSampling");

interface ProfileNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: ProfileNode[] }
const bySite = new Map<string, number>();
let all = 0, proxyBytes = 0;
const walk = (node: ProfileNode, owner: string | undefined) => {
  const f = node.callFrame;
  const ours = f.url.includes("/dist/src/");
  const site = ours ? `${f.functionName || "(anonymous)"} ${f.url.split("/dist/src/")[1]}:${f.lineNumber + 1}` : owner;
  all += node.selfSize;
  if (site && node.selfSize) {
    const key = ours ? site : `${site} > ${f.functionName || "(native)"}`;
    bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    proxyBytes += node.selfSize;
  }
  for (const c of node.children) walk(c, site);
};
walk(profile.head, undefined);
const top = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, opts.top ?? 15).map(([site, bytes]) => ({ site, bytesPerRequest: Math.round(bytes / N) }));
console.log(JSON.stringify({ requests: N, direct: !!opts.direct, cpuUsPerRequest: (cpu.user + cpu.system) / N, gcPauseMsPer1000: (gcPauseMs / N) * 1000, gcMaxMs, scavengesPer1000: (scavenges / N) * 1000, allKiBPerRequest: all / N / 1024, proxyKiBPerRequest: opts.direct ? 0 : proxyBytes / N / 1024, top }));
agent.destroy();
await proxy.stop();
backend.close();
process.exit(0);
