// ADS end to end, state of the world and Delta: our xDS server drives a real trellis proxy; updates apply, a bad
// update is NACKed while traffic keeps flowing, losing the server changes nothing, and a restarted server resyncs
// the proxy (Delta: from the versions the proxy declares it holds).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { AdsServer, type Snapshot } from "../../src/xds/ads-server.js";
import { encodeAny, TYPE_URL } from "../../src/xds/resource.js";
import { snapshot } from "../fixtures/xds-snapshot.js";
import { parseMessage } from "../../src/xds/resource.js";
import type { Bootstrap__Output } from "../../src/xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { echo, get, HCM, ROUTER, type Backend } from "../proxy/harness.js";

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); });

function mesh(version: string, backends: Record<string, Backend>, routeTo: string, listenerPort: number, extraRoute: Record<string, unknown> = {}): Snapshot {
  return snapshot(version, {
    cluster: Object.keys(backends).map((name) => ({ name, type: "EDS", eds_cluster_config: { eds_config: { ads: {} } }, connect_timeout: "1s" })),
    endpoint: Object.entries(backends).map(([name, b]) => ({ cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: b.port } } } }] }] })),
    listener: [{ name: "http", address: { socket_address: { address: "127.0.0.1", port_value: listenerPort } }, filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: "http", rds: { route_config_name: "main", config_source: { ads: {} } }, http_filters: [ROUTER] } }] }] }],
    route: [{ name: "main", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: routeTo, ...extraRoute } }] }] }],
  });
}

function adsBootstrap(port: number, id: string, apiType: string): Bootstrap__Output {
  const b = parseMessage<Bootstrap__Output>("envoy.config.bootstrap.v3.Bootstrap", {
    node: { id, cluster: "test", metadata: { NAMESPACE: "default", LABELS: { app: "test" } } },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    dynamic_resources: { ads_config: { api_type: apiType, transport_api_version: "V3", grpc_services: [{ envoy_grpc: { cluster_name: "xds" } }] }, cds_config: { ads: {} }, lds_config: { ads: {} } },
    static_resources: { clusters: [{ name: "xds", type: "STATIC", connect_timeout: "1s", typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } }, load_assignment: { cluster_name: "xds", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] }] } }] },
  });
  if (!b.ok) throw new Error(JSON.stringify(b.errors));
  return b.value;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });
}

for (const apiType of ["GRPC", "DELTA_GRPC"]) test(`a proxy configured only by ADS (${apiType}) serves, follows updates, NACKs a bad one and survives a server restart`, async () => {
  const a = await echo("a");
  const b = await echo("b");
  cleanup.push(() => a.close(), () => b.close());
  const listenerPort = await freePort();
  const acks: string[] = [];
  let server = new AdsServer({ onAck: (_p, type, v) => acks.push(`${type.split(".").pop()}@${v}`) });
  const xdsPort = await server.listen("127.0.0.1", 0);
  server.setSnapshot("sidecar-1", mesh("1", { a, b }, "a", listenerPort));
  const proxy: RunningProxy = await startProxy(adsBootstrap(xdsPort, "sidecar-1", apiType), { adminPort: 0, drainTimeoutMs: 200 });
  cleanup.unshift(() => proxy.stop());
  const url = `http://127.0.0.1:${listenerPort}/x`;
  await until("the proxy to serve", async () => (await get(url).catch(() => undefined))?.status === 200 || undefined);
  assert.equal((await get(url)).json().name, "a");
  assert.ok(proxy.ready());
  const status = () => server.proxies()[0].types.map((t) => `${t.typeUrl.split(".").pop()}:${t.state}`);
  await until("SYNCED", () => status().filter((s) => s.endsWith("SYNCED")).length === 4 || undefined);
  assert.equal(server.proxies()[0].node.metadata.NAMESPACE, "default");
  assert.equal(server.proxies()[0].protocol, apiType === "GRPC" ? "SotW" : "Delta");

  // A route update moves traffic.
  server.setSnapshot("sidecar-1", mesh("2", { a, b }, "b", listenerPort));
  await until("traffic to move to b", async () => (await get(url)).json().name === "b" || undefined);

  // A bad update (an unsupported route action) is NACKed with its error; the old routes keep serving.
  const bad = mesh("3", { a, b }, "a", listenerPort);
  bad.resources.route = new Map([["main", encodeAny(TYPE_URL.route, { name: "main", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "a", hash_policy: [{ filter_state: { key: "x" } }] } }] }] })]]);
  server.setSnapshot("sidecar-1", bad);
  const nacked = await until("a NACK", () => server.proxies()[0].types.find((t) => t.state === "NACKED"));
  assert.match(nacked.nackError!, /hash_policy\[0\]\.filter_state: filter_state is not supported/);
  assert.equal((await get(url)).json().name, "b", "the last good config keeps serving");

  // Losing the server changes nothing; a new server on the same port resyncs the proxy.
  await server.close();
  for (let i = 0; i < 5; i++) assert.equal((await get(url)).json().name, "b");
  server = new AdsServer();
  await server.listen("127.0.0.1", xdsPort);
  cleanup.push(() => server.close());
  server.setSnapshot("sidecar-1", mesh("4", { a, b }, "a", listenerPort));
  await until("the proxy to resync to a", async () => (await get(url)).json().name === "a" || undefined, 15_000);
  assert.ok(acks.some((x) => x.startsWith("RouteConfiguration@2")));
});

test("inconsistent snapshots are refused before anything is sent", () => {
  const s = new AdsServer();
  const snap = snapshot("1", { cluster: [{ name: "c", type: "EDS", eds_cluster_config: { eds_config: { ads: {} } } }] });
  assert.throws(() => s.setSnapshot("n", snap), /cluster c needs endpoints c/);
});
