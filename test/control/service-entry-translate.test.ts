// Translation tables for ServiceEntry resolution and location, Sidecar egress ports and the outbound traffic policy:
// Istio resources -> Envoy clusters and listeners, each of which must parse as Envoy's proto.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { translate, type ProxyResources, type TranslateInput } from "../../src/control/translate/translate.js";
import { parseMessage } from "../../src/xds/resource.js";

type Json = Record<string, unknown>;

const r = (kind: string, name: string, spec: Json, namespace = "default"): IstioResource => ({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace }, spec });

function client(upstreams: Workload["upstreams"], fields: Partial<Workload> = {}): Workload {
  return { id: "client", name: "client", namespace: "default", service: "client", labels: { app: "client" }, serviceAccount: "client", address: "127.0.0.1", inboundPort: 15100, servicePorts: [{ port: 8080, name: "http", protocol: "HTTP" }], appPort: 18080, upstreams, ready: true, sidecar: true, mtls: true, interception: "NONE", ...fields };
}

function run(resources: IstioResource[], proxy: Workload, extra: Partial<TranslateInput> = {}): ProxyResources {
  const out = translate({ resources, workloads: [proxy], proxy, ...extra });
  const types: Array<[keyof ProxyResources, string]> = [["clusters", "envoy.config.cluster.v3.Cluster"], ["endpoints", "envoy.config.endpoint.v3.ClusterLoadAssignment"], ["listeners", "envoy.config.listener.v3.Listener"], ["routes", "envoy.config.route.v3.RouteConfiguration"]];
  for (const [key, type] of types) for (const res of out[key]) {
    const p = parseMessage(type, res);
    assert.ok(p.ok, `${key} ${String(res.name ?? res.cluster_name)}: ${JSON.stringify(!p.ok && p.errors)}`);
  }
  return out;
}

const cluster = (out: ProxyResources, name: string) => out.clusters.find((c) => c.name === name) as Json | undefined;
const addresses = (c: Json | undefined) => ((c?.load_assignment as { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> }).endpoints)
  .flatMap((g) => g.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`));

const upstream = (host: string, port: number, localPort = 19000) => [{ host, port, localPort }];

test("resolution DNS: a STRICT_DNS cluster over the endpoints' names, their named ports, Istio's DNS settings", () => {
  const se = r("ServiceEntry", "ext", { hosts: ["api.example.com"], location: "MESH_EXTERNAL", resolution: "DNS", ports: [{ number: 80, name: "http", protocol: "HTTP", targetPort: 8080 }],
    endpoints: [{ address: "a.backend.example" }, { address: "b.backend.example", ports: { http: 9090 }, weight: 3 }] });
  const out = run([se], client(upstream("api.example.com", 80)));
  const c = cluster(out, "outbound|80||api.example.com")!;
  assert.equal(c.type, "STRICT_DNS");
  assert.deepEqual(addresses(c), ["a.backend.example:8080", "b.backend.example:9090"], "targetPort by default, the endpoint's own port by name");
  assert.equal(c.respect_dns_ttl, true);
  assert.equal(c.dns_refresh_rate, "60s", "Istio's default dnsRefreshRate");
  assert.equal(c.dns_lookup_family, "V4_ONLY");
  assert.equal(c.typed_dns_resolver_config, undefined, "no resolver configured: the proxy's system resolver");
  assert.ok(!out.endpoints.some((e) => e.cluster_name === "outbound|80||api.example.com"), "no EDS for a DNS cluster");
});

test("resolution DNS without endpoints resolves the hosts themselves; a configured resolver is named in the cluster", () => {
  const se = r("ServiceEntry", "ext", { hosts: ["api.example.com"], resolution: "DNS", ports: [{ number: 443, name: "https", protocol: "TLS" }] });
  const out = run([se], client(upstream("api.example.com", 443)), { dns: { resolvers: [{ address: "127.0.0.1", port: 5353 }], refreshRate: "5s" } });
  const c = cluster(out, "outbound|443||api.example.com")!;
  assert.deepEqual(addresses(c), ["api.example.com:443"]);
  assert.equal(c.dns_refresh_rate, "5s");
  assert.deepEqual(((c.typed_dns_resolver_config as Json).typed_config as Json).resolvers, [{ socket_address: { address: "127.0.0.1", port_value: 5353 } }]);
});

test("resolution DNS_ROUND_ROBIN: LOGICAL_DNS over the first endpoint; NONE: ORIGINAL_DST; STATIC: EDS", () => {
  const rr = r("ServiceEntry", "rr", { hosts: ["rr.example.com"], resolution: "DNS_ROUND_ROBIN", ports: [{ number: 80, name: "http" }], endpoints: [{ address: "one.example.com" }, { address: "two.example.com" }] });
  const none = r("ServiceEntry", "none", { hosts: ["*.wild.example"], resolution: "NONE", ports: [{ number: 443, name: "tls", protocol: "TLS" }] });
  const stat = r("ServiceEntry", "static", { hosts: ["db.example.com"], resolution: "STATIC", ports: [{ number: 5432, name: "tcp", protocol: "TCP" }], endpoints: [{ address: "10.0.0.7" }] });
  const out = run([rr, none, stat], client(upstream("rr.example.com", 80, 19001), { interception: "REDIRECT" }));
  const logical = cluster(out, "outbound|80||rr.example.com")!;
  assert.equal(logical.type, "LOGICAL_DNS");
  assert.deepEqual(addresses(logical), ["one.example.com:80"]);
  const passthrough = cluster(out, "outbound|443||*.wild.example")!;
  assert.equal(passthrough.type, "ORIGINAL_DST");
  assert.equal(passthrough.lb_policy, "CLUSTER_PROVIDED");
  assert.equal(cluster(out, "outbound|5432||db.example.com")!.type, "EDS");
  assert.ok(out.endpoints.some((e) => e.cluster_name === "outbound|5432||db.example.com"));
});

test("MESH_EXTERNAL: no auto mTLS, Istio's external cluster metadata; a DestinationRule's SIMPLE TLS originates TLS", () => {
  const se = r("ServiceEntry", "ext", { hosts: ["api.example.com"], location: "MESH_EXTERNAL", resolution: "DNS", ports: [{ number: 80, name: "http" }, { number: 443, name: "https", protocol: "HTTPS" }] });
  const plain = run([se], client([...upstream("api.example.com", 80, 19001), ...upstream("api.example.com", 443, 19002)]));
  const c80 = cluster(plain, "outbound|80||api.example.com")!;
  assert.equal(c80.transport_socket, undefined);
  assert.equal(c80.transport_socket_matches, undefined);
  assert.deepEqual((c80.metadata as Json).filter_metadata, { istio: { services: [{ host: "api.example.com", name: "api.example.com", namespace: "default" }], external: true } });
  // The app dialled its local port: the external host is asked by its own name.
  const rc = plain.routes.find((x) => String(x.name) === "80|api.example.com|19001")!;
  const action = (rc.virtual_hosts as Array<{ routes: Array<{ route: Json }> }>)[0].routes[0].route;
  assert.equal(action.host_rewrite_literal, "api.example.com");
  const dr = r("DestinationRule", "ext", { host: "api.example.com", trafficPolicy: { portLevelSettings: [], tls: { mode: "SIMPLE", caCertificates: "/etc/ca.pem", subjectAltNames: ["api.example.com"] } } });
  const tls = run([se, dr], client(upstream("api.example.com", 443)));
  const socket = cluster(tls, "outbound|443||api.example.com")!.transport_socket as { typed_config: Json };
  assert.equal(socket.typed_config.sni, "api.example.com");
  assert.deepEqual(socket.typed_config.common_tls_context, { validation_context: { trusted_ca: { filename: "/etc/ca.pem" }, match_subject_alt_names: [{ exact: "api.example.com" }] } });
  const internal = r("ServiceEntry", "int", { hosts: ["vm.internal.example"], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 80, name: "http" }], endpoints: [{ address: "10.0.0.9" }] });
  const meta = cluster(run([internal], client(upstream("vm.internal.example", 80))), "outbound|80||vm.internal.example")!.metadata as { filter_metadata: { istio: Json } };
  assert.equal(meta.filter_metadata.istio.external, undefined, "MESH_INTERNAL is not marked external");
});

test("a host registered by sidecars keeps auto mTLS even when a ServiceEntry names it", () => {
  const server: Workload = { ...client([]), id: "reviews", name: "reviews", service: "reviews", labels: { app: "reviews" }, inboundPort: 15200 };
  const se = r("ServiceEntry", "reviews", { hosts: ["reviews.default.svc.cluster.local"], location: "MESH_INTERNAL", resolution: "DNS", ports: [{ number: 8080, name: "http" }] });
  const proxy = client(upstream("reviews", 8080));
  const out = translate({ resources: [se], workloads: [proxy, server], proxy });
  const c = cluster(out, "outbound|8080||reviews.default.svc.cluster.local")!;
  assert.equal(c.type, "EDS");
  assert.ok(Array.isArray(c.transport_socket_matches), "auto mTLS toward the sidecar");
});

test("a Sidecar egress listener with a port scopes its hosts to that port", () => {
  const se = r("ServiceEntry", "ext", { hosts: ["api.example.com"], resolution: "DNS", ports: [{ number: 80, name: "http" }, { number: 443, name: "tls", protocol: "TLS" }] });
  const sidecar = r("Sidecar", "default", { egress: [{ port: { number: 443, protocol: "TLS", name: "tls" }, hosts: ["*/api.example.com"] }, { hosts: ["istio-system/*"] }] });
  const transparent = run([se, sidecar], client([], { interception: "REDIRECT" }));
  const names = transparent.clusters.map((c) => String(c.name)).filter((n) => n.includes("api.example.com"));
  assert.deepEqual(names, ["outbound|443||api.example.com"], "port 80 of the host is not visible");
  assert.ok(!transparent.listeners.some((l) => String(l.name).endsWith("_80") && JSON.stringify(l).includes("api.example.com")));
  const explicit = run([se, sidecar], client([...upstream("api.example.com", 80, 19001), ...upstream("api.example.com", 443, 19002)]));
  assert.match(JSON.stringify(explicit.routes.find((x) => x.name === "outbound_127.0.0.1_19001|unavailable")), /api\.example\.com is not visible to this workload on port 80: the Sidecar default\/default lists it only in egress listeners of other ports/);
  assert.ok(explicit.listeners.some((l) => l.name === "outbound_127.0.0.1_19002" && JSON.stringify(l).includes("outbound|443||api.example.com")));
  const unscoped = run([se, r("Sidecar", "default", { egress: [{ hosts: ["*/api.example.com"] }] })], client([], { interception: "REDIRECT" }));
  assert.equal(unscoped.clusters.filter((c) => String(c.name).includes("api.example.com")).length, 2, "an egress without a port shows every port");
});

test("outboundTrafficPolicy: ALLOW_ANY passes unknown destinations through, REGISTRY_ONLY sends them to the BlackHoleCluster; a Sidecar's wins", () => {
  const proxy = client([], { interception: "REDIRECT" });
  const target = (out: ProxyResources) => ((out.listeners.find((l) => l.name === "virtualOutbound")!.filter_chains as Array<{ filters: Array<{ typed_config: Json }> }>)[0].filters[0].typed_config.cluster);
  assert.equal(target(run([], proxy)), "PassthroughCluster", "Istio's default is ALLOW_ANY");
  const closed = run([], proxy, { outboundTrafficPolicy: "REGISTRY_ONLY" });
  assert.equal(target(closed), "BlackHoleCluster");
  assert.deepEqual(cluster(closed, "BlackHoleCluster"), { name: "BlackHoleCluster", type: "STATIC", connect_timeout: "10s" });
  const open = r("Sidecar", "default", { outboundTrafficPolicy: { mode: "ALLOW_ANY" } });
  assert.equal(target(run([open], proxy, { outboundTrafficPolicy: "REGISTRY_ONLY" })), "PassthroughCluster");
  assert.equal(target(run([r("Sidecar", "default", { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } })], proxy)), "BlackHoleCluster");
});

test("resolution STATIC with several ports: each port's endpoints use that port's target (named endpoint port, targetPort, number)", () => {
  const se = r("ServiceEntry", "vm", { hosts: ["vm.example.com"], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 80, name: "http", targetPort: 8080 }, { number: 9090, name: "metrics" }, { number: 5000, name: "admin" }],
    endpoints: [{ address: "10.0.0.5", ports: { admin: 5555 } }] });
  const out = run([se], client([], { interception: "REDIRECT" }));
  const ports = (name: string) => ((out.endpoints.find((e) => e.cluster_name === name)!.endpoints as Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }> }>)[0].lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value));
  assert.deepEqual(ports("outbound|80||vm.example.com"), [8080]);
  assert.deepEqual(ports("outbound|9090||vm.example.com"), [9090]);
  assert.deepEqual(ports("outbound|5000||vm.example.com"), [5555]);
});

test("transparent mode, resolution NONE: no VIP; the capture listener sends the hosts' traffic to their cluster by SNI, Host or port", () => {
  const tls = r("ServiceEntry", "tls", { hosts: ["*.wild.example"], resolution: "NONE", ports: [{ number: 443, name: "tls", protocol: "TLS" }] });
  const web = r("ServiceEntry", "web", { hosts: ["web.example.com"], resolution: "NONE", ports: [{ number: 80, name: "http", protocol: "HTTP" }] });
  const db = r("ServiceEntry", "db", { hosts: ["db.example.com"], resolution: "NONE", ports: [{ number: 5432, name: "tcp", protocol: "TCP" }] });
  const out = run([tls, web, db], client([], { interception: "REDIRECT" }), { outboundTrafficPolicy: "REGISTRY_ONLY" });
  assert.ok(!out.listeners.some((l) => l.name !== "virtualOutbound" && /example/.test(JSON.stringify(l))), "no VIP listener for hosts without an address");
  const chains = out.listeners.find((l) => l.name === "virtualOutbound")!.filter_chains as Array<{ name: string; filter_chain_match?: Json; filters: Array<{ typed_config: Json }> }>;
  assert.deepEqual(chains.map((c) => [c.name, c.filter_chain_match]), [
    ["outbound|443||*.wild.example", { destination_port: 443, server_names: ["*.wild.example"] }],
    ["outbound|5432||db.example.com", { destination_port: 5432 }],
    ["0.0.0.0_80", { destination_port: 80 }],
    ["BlackHoleCluster", undefined],
  ]);
  const vhosts = (chains[2].filters[0].typed_config.route_config as { virtual_hosts: Array<{ name: string; domains: string[]; routes: Json[] }> }).virtual_hosts;
  assert.deepEqual(vhosts.map((v) => [v.name, v.domains]), [["web.example.com:80", ["web.example.com", "web.example.com:80"]], ["block_all", ["*"]]]);
  assert.deepEqual(vhosts[1].routes[0].direct_response, { status: 502 }, "REGISTRY_ONLY: other hosts on the port are refused");
  const open = run([web], client([], { interception: "REDIRECT" }));
  const openHosts = ((open.listeners.find((l) => l.name === "virtualOutbound")!.filter_chains as Array<{ filters: Array<{ typed_config: Json }> }>)[0].filters[0].typed_config.route_config as { virtual_hosts: Array<{ name: string; routes: Array<{ route?: Json }> }> }).virtual_hosts;
  assert.equal(openHosts[1].name, "allow_any");
  assert.equal(openHosts[1].routes[0].route?.cluster, "PassthroughCluster");
});
