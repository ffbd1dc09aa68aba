// Translation tables: Bookinfo-shaped workloads and Istio's task configs -> Envoy resources, every one of which must
// parse as Envoy's proto (so a real proxy would take it), with Istio's names and shapes.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { translate, type ProxyResources } from "../../src/control/translate/translate.js";
import { parseMessage } from "../../src/xds/resource.js";

function wl(service: string, version: string, inboundPort: number, upstreams: Workload["upstreams"] = []): Workload {
  return { id: `${service}-${version}`, name: `${service}-${version}`, namespace: "default", service, labels: { app: service, version }, serviceAccount: `bookinfo-${service}`, address: "127.0.0.1", inboundPort, servicePorts: [{ port: 9080, name: "http", protocol: "HTTP" }], appPort: inboundPort + 1000, upstreams, ready: true, sidecar: true, mtls: false, interception: "NONE" };
}

const productpage = wl("productpage", "v1", 15101, [{ host: "reviews", port: 9080, localPort: 19081 }, { host: "details", port: 9080, localPort: 19082 }]);
const workloads = [productpage, wl("details", "v1", 15102), wl("reviews", "v1", 15103), wl("reviews", "v2", 15104), wl("reviews", "v3", 15105, [{ host: "ratings", port: 9080, localPort: 19083 }]), wl("ratings", "v1", 15106)];

const r = (kind: string, name: string, spec: Record<string, unknown>, namespace = "default"): IstioResource => ({ apiVersion: kind.endsWith("Policy") || kind.endsWith("Authentication") ? "security.istio.io/v1" : "networking.istio.io/v1", kind, metadata: { name, namespace }, spec });
const reviewsDr = r("DestinationRule", "reviews", { host: "reviews", subsets: ["v1", "v2", "v3"].map((v) => ({ name: v, labels: { version: v } })) });

function valid(out: ProxyResources): ProxyResources {
  const types: Array<[keyof ProxyResources, string]> = [["clusters", "envoy.config.cluster.v3.Cluster"], ["endpoints", "envoy.config.endpoint.v3.ClusterLoadAssignment"], ["listeners", "envoy.config.listener.v3.Listener"], ["routes", "envoy.config.route.v3.RouteConfiguration"]];
  for (const [key, type] of types) for (const res of out[key]) {
    const p = parseMessage(type, res);
    assert.ok(p.ok, `${key}: ${JSON.stringify(!p.ok && p.errors)}`);
  }
  return out;
}

function reviewsRoutes(resources: IstioResource[]) {
  const out = valid(translate({ resources, workloads, proxy: productpage }));
  const rc = out.routes.find((x) => String(x.name).includes("reviews"))!;
  return ((rc.virtual_hosts as Array<{ routes: Array<Record<string, unknown>> }>)[0]).routes;
}

test("clusters and endpoints carry Istio's names; subsets select endpoints by labels", () => {
  const out = valid(translate({ resources: [reviewsDr], workloads, proxy: productpage }));
  const names = out.clusters.map((c) => c.name);
  assert.ok(names.includes("outbound|9080||reviews.default.svc.cluster.local"));
  assert.ok(names.includes("outbound|9080|v2|reviews.default.svc.cluster.local"));
  assert.ok(names.includes("inbound|9080||"));
  const v2 = out.endpoints.find((e) => e.cluster_name === "outbound|9080|v2|reviews.default.svc.cluster.local")!;
  const ports = (v2.endpoints as Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }> }>)[0].lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value);
  assert.deepEqual(ports, [15104]);
  assert.ok(!names.some((n) => String(n).includes("ratings")), "productpage does not call ratings, so it is not sent ratings");
});

test("no VirtualService: Istio's default route with its default retries and no timeout", () => {
  const [route] = reviewsRoutes([]);
  const action = route.route as Record<string, unknown>;
  assert.equal(action.cluster, "outbound|9080||reviews.default.svc.cluster.local");
  assert.equal(action.timeout, "0s");
  assert.equal((action.retry_policy as Record<string, unknown>).num_retries, 2);
});

test("header match to v2, then v1 (request routing task)", () => {
  const routes = reviewsRoutes([reviewsDr, r("VirtualService", "reviews", { hosts: ["reviews"], http: [
    { match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
    { route: [{ destination: { host: "reviews", subset: "v1" } }] },
  ] })]);
  assert.deepEqual((routes[0].match as Record<string, unknown>).headers, [{ name: "end-user", string_match: { exact: "jason" } }]);
  assert.equal((routes[0].route as Record<string, unknown>).cluster, "outbound|9080|v2|reviews.default.svc.cluster.local");
  assert.equal((routes[1].route as Record<string, unknown>).cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
});

test("weights, timeout, retries with status codes, rewrite and response headers", () => {
  const [route] = reviewsRoutes([reviewsDr, r("VirtualService", "reviews", { hosts: ["reviews"], http: [{
    route: [{ destination: { host: "reviews", subset: "v1" }, weight: 50 }, { destination: { host: "reviews", subset: "v3" }, weight: 50 }],
    timeout: "0.5s", retries: { attempts: 3, perTryTimeout: "2s", retryOn: "gateway-error,503" }, rewrite: { uri: "/v2" },
    headers: { response: { set: { "x-served-by": "trellis" } } },
  }] })]);
  const action = route.route as Record<string, { clusters?: unknown[] } | unknown>;
  assert.deepEqual((action.weighted_clusters as { clusters: Array<{ name: string; weight: number }> }).clusters.map((c) => [c.name, c.weight]), [["outbound|9080|v1|reviews.default.svc.cluster.local", 50], ["outbound|9080|v3|reviews.default.svc.cluster.local", 50]]);
  assert.equal(action.timeout, "0.5s");
  assert.deepEqual({ ...(action.retry_policy as Record<string, unknown>), retry_host_predicate: undefined, host_selection_retry_max_attempts: undefined }, { retry_on: "gateway-error,retriable-status-codes", num_retries: 3, per_try_timeout: "2s", retriable_status_codes: [503], retry_host_predicate: undefined, host_selection_retry_max_attempts: undefined });
  assert.equal(action.prefix_rewrite, "/v2");
  assert.deepEqual(route.response_headers_to_add, [{ header: { key: "x-served-by", value: "trellis" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }]);
});

test("fault delay and abort become per-route fault filter config in millionths", () => {
  const proxy = workloads[4];
  const out = valid(translate({ resources: [r("VirtualService", "ratings", { hosts: ["ratings"], http: [{ match: [{ headers: { "end-user": { exact: "jason" } } }], fault: { delay: { percentage: { value: 100 }, fixedDelay: "7s" }, abort: { percentage: { value: 12.5 }, httpStatus: 500 } }, route: [{ destination: { host: "ratings" } }] }] })], workloads, proxy }));
  const rc = out.routes.find((x) => String(x.name).includes("ratings"))!;
  const route = (rc.virtual_hosts as Array<{ routes: Array<Record<string, unknown>> }>)[0].routes[0];
  const fault = (route.typed_per_filter_config as Record<string, Record<string, unknown>>)["envoy.filters.http.fault"];
  assert.deepEqual(fault.delay, { fixed_delay: "7s", percentage: { numerator: 1_000_000, denominator: "MILLION" } });
  assert.deepEqual(fault.abort, { http_status: 500, percentage: { numerator: 125_000, denominator: "MILLION" } });
});

test("corsPolicy becomes the CORS filter's per-route policy", () => {
  const [route] = reviewsRoutes([r("VirtualService", "reviews", { hosts: ["reviews"], http: [{ corsPolicy: { allowOrigins: [{ exact: "https://example.com" }], allowMethods: ["GET", "POST"], maxAge: "24h", allowCredentials: false }, route: [{ destination: { host: "reviews" } }] }] })]);
  assert.deepEqual((route.typed_per_filter_config as Record<string, unknown>)["envoy.filters.http.cors"], {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy", allow_origin_string_match: [{ exact: "https://example.com" }], allow_methods: "GET,POST", max_age: "86400", allow_credentials: false,
  });
});

test("DestinationRule policy: consistent hash by header, connection limits, outlier detection", () => {
  const dr = r("DestinationRule", "reviews", { host: "reviews", trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: "x-user" } }, connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } }, outlierDetection: { consecutive5xxErrors: 1, interval: "1s", baseEjectionTime: "3m", maxEjectionPercent: 100 } } });
  const out = valid(translate({ resources: [dr], workloads, proxy: productpage }));
  const c = out.clusters.find((x) => x.name === "outbound|9080||reviews.default.svc.cluster.local")!;
  assert.equal(c.lb_policy, "RING_HASH");
  assert.deepEqual((c.circuit_breakers as { thresholds: Array<Record<string, number>> }).thresholds[0].max_connections, 1);
  assert.equal(c.max_requests_per_connection, 1);
  assert.deepEqual(c.outlier_detection, { consecutive_5xx: 1, enforcing_consecutive_5xx: 100, interval: "1s", base_ejection_time: "180s", max_ejection_percent: 100 });
  const [route] = reviewsRoutes([dr]);
  assert.deepEqual((route.route as Record<string, unknown>).hash_policy, [{ header: { header_name: "x-user" } }]);
});

test("the inbound listener carries the workload's authorization and JWT filters", () => {
  const out = valid(translate({ resources: [r("AuthorizationPolicy", "deny-post", { selector: { matchLabels: { app: "productpage" } }, action: "DENY", rules: [{ to: [{ operation: { methods: ["POST"] } }] }] })], workloads, proxy: productpage }));
  const inbound = out.listeners.find((l) => l.name === "virtualInbound")!;
  const hcm = ((inbound.filter_chains as Array<{ filters: Array<{ typed_config: { http_filters: Array<{ name: string }> } }> }>)[0].filters[0].typed_config);
  assert.deepEqual(hcm.http_filters.map((f) => f.name), ["envoy.filters.http.rbac", "envoy.filters.http.router"]);
});

test("a VirtualService exported only to its namespace is not used by other namespaces", () => {
  const other = { ...productpage, namespace: "other" };
  const vs = r("VirtualService", "reviews", { hosts: ["reviews.default.svc.cluster.local"], exportTo: ["."], http: [{ route: [{ destination: { host: "reviews.default.svc.cluster.local", subset: "v2" } }] }] });
  const out = valid(translate({ resources: [reviewsDr, vs], workloads, proxy: { ...other, upstreams: [{ host: "reviews.default.svc.cluster.local", port: 9080, localPort: 19081 }] } }));
  const rc = out.routes.find((x) => String(x.name).includes("reviews"))!;
  assert.equal(((rc.virtual_hosts as Array<{ routes: Array<{ name: string }> }>)[0].routes[0]).name, "default");
});

test("Sidecar egress hosts limit what a proxy is told about: workload selector, namespace, then mesh default", () => {
  const transparent: Workload = { ...wl("productpage", "v1", 9080), interception: "REDIRECT", upstreams: [] };
  const services = (out: ProxyResources) => [...new Set(out.clusters.map((c) => String(c.name)).filter((n) => n.startsWith("outbound|")).map((n) => n.split("|")[3]))].sort();
  const all = translate({ resources: [], workloads, proxy: transparent });
  assert.deepEqual(services(all), ["details.default.svc.cluster.local", "productpage.default.svc.cluster.local", "ratings.default.svc.cluster.local", "reviews.default.svc.cluster.local"], "no Sidecar: every service");
  const meshDefault = r("Sidecar", "default", { egress: [{ hosts: ["./details.default.svc.cluster.local"] }] }, "istio-system");
  assert.deepEqual(services(valid(translate({ resources: [meshDefault], workloads, proxy: transparent }))), ["details.default.svc.cluster.local"], "the root namespace's Sidecar is the mesh default");
  const nsSidecar = r("Sidecar", "default", { egress: [{ hosts: ["./reviews.default.svc.cluster.local", "./ratings"] }] });
  const scoped = valid(translate({ resources: [meshDefault, nsSidecar], workloads, proxy: transparent }));
  assert.deepEqual(services(scoped), ["ratings.default.svc.cluster.local", "reviews.default.svc.cluster.local"], "the namespace's Sidecar wins over the mesh's; short names work");
  assert.deepEqual(scoped.listeners.map((l) => String(l.name)).filter((n) => n.startsWith("10.214.")).length, 2, "VIP listeners only for the visible services");
  const selected = r("Sidecar", "productpage", { workloadSelector: { labels: { app: "productpage" } }, egress: [{ hosts: ["~/*"] }] });
  assert.deepEqual(services(translate({ resources: [nsSidecar, selected], workloads, proxy: transparent })), [], "a workloadSelector Sidecar wins; ~ hides everything");
  assert.deepEqual(services(translate({ resources: [r("Sidecar", "any", { egress: [{ hosts: ["*/*.default.svc.cluster.local"] }] })], workloads, proxy: transparent })).length, 4);
});

test("an explicit upstream a Sidecar hides answers 503 saying which Sidecar hides it", () => {
  const sidecar = r("Sidecar", "productpage", { workloadSelector: { labels: { app: "productpage" } }, egress: [{ hosts: ["./details.default.svc.cluster.local"] }] });
  const out = valid(translate({ resources: [sidecar], workloads, proxy: productpage }));
  assert.ok(out.clusters.some((c) => c.name === "outbound|9080||details.default.svc.cluster.local"));
  assert.ok(!out.clusters.some((c) => String(c.name).includes("reviews")));
  const unavailable = out.routes.find((x) => String(x.name).endsWith("|unavailable"))!;
  assert.match(JSON.stringify(unavailable), /reviews\.default\.svc\.cluster\.local is not visible to this workload: the Sidecar default\/productpage does not list it in egress\.hosts/);
});

// tcp and tls routes: Istio's tcp-echo and SNI tasks, as filter chains of the outbound listener for the service port.
const l4 = (service: string, version: string, inboundPort: number, protocol: string, port: number): Workload => ({ ...wl(service, version, inboundPort), servicePorts: [{ port, name: protocol.toLowerCase(), protocol }] });
const sleep: Workload = { ...wl("sleep", "v1", 15200), upstreams: [{ host: "tcp-echo", port: 9000, localPort: 19090 }, { host: "*.tls.example", port: 443, localPort: 19443 }] };
const l4Workloads = [...workloads, sleep, l4("tcp-echo", "v1", 15201, "TCP", 9000), l4("tcp-echo", "v2", 15202, "TCP", 9000), l4("tls-a", "v1", 15203, "TLS", 8443), l4("tls-b", "v1", 15204, "TLS", 8443)];
const echoDr = r("DestinationRule", "tcp-echo", { host: "tcp-echo", subsets: ["v1", "v2"].map((v) => ({ name: v, labels: { version: v } })) });
const tlsEntry = r("ServiceEntry", "tls-example", { hosts: ["*.tls.example"], ports: [{ number: 443, name: "tls", protocol: "TLS" }], resolution: "NONE" });
type Chain = { filter_chain_match?: Record<string, unknown>; filters: Array<{ name: string; typed_config: Record<string, unknown> }> };

function listenerOf(resources: IstioResource[], name: string, proxy: Workload = sleep): { listener: Record<string, unknown>; chains: Chain[]; out: ProxyResources } {
  const out = valid(translate({ resources: [echoDr, tlsEntry, ...resources], workloads: l4Workloads, proxy }));
  const listener = out.listeners.find((l) => l.name === name)!;
  assert.ok(listener, `no listener ${name} in ${out.listeners.map((l) => l.name).join(", ")}`);
  return { listener, chains: listener.filter_chains as Chain[], out };
}

/** Each chain as [its match, where its tcp_proxy sends: a cluster or "cluster:weight,..."]. */
function targets(chains: Chain[]): Array<[Record<string, unknown> | undefined, string]> {
  return chains.map((c) => {
    const tcp = c.filters[0].typed_config;
    assert.equal(c.filters[0].name, "envoy.filters.network.tcp_proxy");
    const weighted = tcp.weighted_clusters as { clusters: Array<{ name: string; weight: number }> } | undefined;
    return [c.filter_chain_match, weighted ? weighted.clusters.map((w) => `${w.name}:${w.weight}`).join(",") : String(tcp.cluster)];
  });
}

const ECHO = (subset = "") => `outbound|9000|${subset}|tcp-echo.default.svc.cluster.local`;
const echoVs = (tcp: unknown[], extra: Record<string, unknown> = {}) => r("VirtualService", "tcp-echo", { hosts: ["tcp-echo"], tcp, ...extra });

test("tcp routes: the default cluster without a VirtualService, a subset, then weights (Istio's tcp traffic shifting)", () => {
  assert.deepEqual(targets(listenerOf([], "outbound_127.0.0.1_19090").chains), [[undefined, ECHO()]]);
  const v2 = listenerOf([echoVs([{ route: [{ destination: { host: "tcp-echo", subset: "v2" } }] }])], "outbound_127.0.0.1_19090");
  assert.deepEqual(targets(v2.chains), [[undefined, ECHO("v2")]]);
  assert.equal(v2.chains[0].filters[0].typed_config.stat_prefix, ECHO("v2"), "one destination: its cluster is the stat prefix");
  assert.equal(v2.listener.listener_filters, undefined, "no SNI, no tls_inspector");
  const shifted = listenerOf([echoVs([{ route: [{ destination: { host: "tcp-echo", subset: "v1" }, weight: 80 }, { destination: { host: "tcp-echo", subset: "v2" }, weight: 20 }, { destination: { host: "tcp-echo" }, weight: 0 }] }])], "outbound_127.0.0.1_19090");
  assert.deepEqual(targets(shifted.chains), [[undefined, `${ECHO("v1")}:80,${ECHO("v2")}:20`]], "weight 0 is left out");
  assert.equal(shifted.chains[0].filters[0].typed_config.stat_prefix, "tcp-echo.default", "weighted: the VirtualService's name.namespace");
  assert.deepEqual(targets(listenerOf([echoVs([{ route: [{ destination: { host: "tcp-echo", subset: "v1" }, weight: 10 }] }])], "outbound_127.0.0.1_19090").chains), [[undefined, ECHO("v1")]], "a lone destination takes everything");
});

test("tcp matches: port, sourceLabels, sourceNamespace and gateways are decided per proxy; the first applying route wins", () => {
  const route = (subset: string) => [{ destination: { host: "tcp-echo", subset } }];
  const chains = (vs: IstioResource, proxy = sleep) => targets(listenerOf([vs], "outbound_127.0.0.1_19090", proxy).chains);
  assert.deepEqual(chains(echoVs([{ match: [{ port: 9001 }], route: route("v1") }, { match: [{ port: 9000 }], route: route("v2") }])), [[undefined, ECHO("v2")]], "port");
  const byLabels = echoVs([{ match: [{ sourceLabels: { app: "sleep", version: "v2" } }], route: route("v2") }, { route: route("v1") }]);
  assert.deepEqual(chains(byLabels), [[undefined, ECHO("v1")]], "sourceLabels not matching this proxy: the route is left out");
  assert.deepEqual(chains(byLabels, { ...sleep, labels: { app: "sleep", version: "v2" } }), [[undefined, ECHO("v2")]], "matching: the route applies");
  assert.deepEqual(chains(echoVs([{ match: [{ sourceNamespace: "other" }], route: route("v2") }])), [[undefined, ECHO()]], "sourceNamespace");
  assert.deepEqual(chains(echoVs([{ match: [{ gateways: ["istio-system/ingress"] }], route: route("v2") }, { match: [{ gateways: ["mesh"] }], route: route("v1") }])), [[undefined, ECHO("v1")]], "match gateways");
  assert.deepEqual(chains(echoVs([{ route: route("v2") }], { gateways: ["istio-system/ingress"] })), [[undefined, ECHO()]], "a VirtualService bound only to a gateway does not apply to sidecars");
  assert.deepEqual(chains(echoVs([{ route: route("v2") }], { gateways: ["istio-system/ingress", "mesh"] })), [[undefined, ECHO("v2")]]);
  assert.deepEqual(chains(echoVs([{ route: route("v2") }, { route: route("v1") }])), [[undefined, ECHO("v2")]], "a route without matches ends the list");
});

test("tcp destinationSubnets become prefix_ranges chains, ahead of the catch-all; malformed subnets match nothing", () => {
  const { chains } = listenerOf([echoVs([
    { match: [{ destinationSubnets: ["10.1.0.0/16", "192.168.7.7"] }, { destinationSubnets: ["fd00::/8"] }], route: [{ destination: { host: "tcp-echo", subset: "v1" } }] },
    { match: [{ destinationSubnets: ["10.1.0.0/16"] }], route: [{ destination: { host: "tcp-echo", subset: "v2" } }] },
    { match: [{ destinationSubnets: ["10.2.0.0/33"] }], route: [{ destination: { host: "tcp-echo", subset: "v2" } }] },
  ])], "outbound_127.0.0.1_19090");
  assert.deepEqual(targets(chains), [
    [{ prefix_ranges: [{ address_prefix: "10.1.0.0", prefix_len: 16 }, { address_prefix: "192.168.7.7", prefix_len: 32 }, { address_prefix: "fd00::", prefix_len: 8 }] }, ECHO("v1")],
    [{ prefix_ranges: [{ address_prefix: "10.1.0.0", prefix_len: 16 }] }, ECHO("v2")],
    [undefined, ECHO()],
  ]);
  const catchAll = listenerOf([echoVs([
    { match: [{ destinationSubnets: ["10.1.0.0/16"] }], route: [{ destination: { host: "tcp-echo", subset: "v1" } }] },
    { match: [{ port: 9000 }], route: [{ destination: { host: "tcp-echo", subset: "v2" } }] },
    { route: [{ destination: { host: "tcp-echo" } }] },
  ])], "outbound_127.0.0.1_19090");
  assert.deepEqual(targets(catchAll.chains).map(([, t]) => t), [ECHO("v1"), ECHO("v2")], "the catch-all ends the list: no default after it");
});

test("tls routes: SNI chains behind tls_inspector, passthrough tcp_proxy; no default chain once a match applies", () => {
  const vs = r("VirtualService", "tls-sni", { hosts: ["*.tls.example"], tls: [
    { match: [{ port: 443, sniHosts: ["a.tls.example"] }], route: [{ destination: { host: "tls-a" } }] },
    { match: [{ sniHosts: ["b.tls.example", "*.b.tls.example"] }], route: [{ destination: { host: "tls-b" } }] },
    { match: [{ sniHosts: ["a.tls.example"] }], route: [{ destination: { host: "tls-b" } }] },
    { match: [{ port: 8443, sniHosts: ["c.tls.example"] }], route: [{ destination: { host: "tls-b" } }] },
    { match: [{ sniHosts: ["d.tls.example"], destinationSubnets: ["10.214.0.0/16"], sourceLabels: { app: "sleep" } }], route: [{ destination: { host: "tls-a", port: { number: 8443 } }, weight: 50 }, { destination: { host: "tls-b" }, weight: 50 }] },
  ] });
  const { listener, chains, out } = listenerOf([vs], "outbound_127.0.0.1_19443");
  assert.deepEqual(listener.listener_filters, [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" } }]);
  assert.deepEqual(targets(chains), [
    [{ server_names: ["a.tls.example"] }, "outbound|8443||tls-a.default.svc.cluster.local"],
    [{ server_names: ["b.tls.example", "*.b.tls.example"] }, "outbound|8443||tls-b.default.svc.cluster.local"],
    [{ server_names: ["d.tls.example"], prefix_ranges: [{ address_prefix: "10.214.0.0", prefix_len: 16 }] }, "outbound|8443||tls-a.default.svc.cluster.local:50,outbound|8443||tls-b.default.svc.cluster.local:50"],
  ], "the same SNI again is unreachable and dropped; port 8443 is not this listener's");
  assert.ok(chains.every((c) => !("transport_socket" in c)), "TLS passes through: no chain terminates it");
  for (const host of ["tls-a", "tls-b"]) assert.ok(out.clusters.some((c) => c.name === `outbound|8443||${host}.default.svc.cluster.local`), `the routes' destinations get clusters (${host} is no declared upstream)`);
  const none = listenerOf([], "outbound_127.0.0.1_19443");
  assert.deepEqual(targets(none.chains), [[undefined, "outbound|443||*.tls.example"]], "no VirtualService: the service's own cluster, no SNI needed");
  assert.equal(none.listener.listener_filters, undefined);
});

test("tls routes apply only to TLS and HTTPS ports, tcp routes only to the others (as Istio's listener builder)", () => {
  const both = (hosts: string[]) => r("VirtualService", "both", { hosts, tcp: [{ route: [{ destination: { host: "tcp-echo", subset: "v2" } }] }], tls: [{ match: [{ sniHosts: [hosts[0]] }], route: [{ destination: { host: "tls-a" } }] }] });
  assert.deepEqual(targets(listenerOf([both(["tcp-echo.default.svc.cluster.local"])], "outbound_127.0.0.1_19090").chains), [[undefined, ECHO("v2")]]);
  assert.deepEqual(targets(listenerOf([both(["*.tls.example"])], "outbound_127.0.0.1_19443").chains), [[{ server_names: ["*.tls.example"] }, "outbound|8443||tls-a.default.svc.cluster.local"]]);
});

test("transparent mode: the service VIP's listener carries the same tcp and tls chains", () => {
  const transparent: Workload = { ...sleep, interception: "REDIRECT", upstreams: [] };
  const vs = echoVs([{ route: [{ destination: { host: "tcp-echo", subset: "v1" }, weight: 80 }, { destination: { host: "tcp-echo", subset: "v2" }, weight: 20 }] }]);
  const out = valid(translate({ resources: [echoDr, vs], workloads: l4Workloads, proxy: transparent }));
  const vip = out.listeners.find((l) => String(l.name).endsWith("_9000"))!;
  assert.equal(vip.bind_to_port, false);
  assert.deepEqual(targets(vip.filter_chains as Chain[]), [[undefined, `${ECHO("v1")}:80,${ECHO("v2")}:20`]]);
  const tls = r("VirtualService", "tls-a", { hosts: ["tls-a"], tls: [{ match: [{ sniHosts: ["tls-a"] }], route: [{ destination: { host: "tls-b" } }] }] });
  const tlsOut = valid(translate({ resources: [tls], workloads: l4Workloads, proxy: transparent }));
  const a = tlsOut.listeners.filter((l) => String(l.name).endsWith("_8443")).find((l) => JSON.stringify(l).includes("server_names"))!;
  assert.deepEqual(targets(a.filter_chains as Chain[]), [[{ server_names: ["tls-a"] }, "outbound|8443||tls-b.default.svc.cluster.local"]]);
  assert.equal((a.listener_filters as Array<{ name: string }>)[0].name, "envoy.filters.listener.tls_inspector");
});

test("DestinationRule portLevelSettings replace the rule's policy for their port, at the rule's level and a subset's", () => {
  const twoPorts = (version: string, port: number): Workload => ({ ...wl("multi", version, port), servicePorts: [{ port: 9080, name: "http", protocol: "HTTP" }, { port: 9090, name: "http-admin", protocol: "HTTP" }] });
  const caller = wl("caller", "v1", 15201, [{ host: "multi", port: 9080, localPort: 19201 }, { host: "multi", port: 9090, localPort: 19202 }]);
  const dr = r("DestinationRule", "multi", { host: "multi",
    trafficPolicy: { loadBalancer: { simple: "RANDOM" }, connectionPool: { tcp: { maxConnections: 5 } },
      portLevelSettings: [{ port: { number: 9090 }, loadBalancer: { consistentHash: { httpHeaderName: "x-user" } }, outlierDetection: { consecutive5xxErrors: 2 } }] },
    subsets: [{ name: "v2", labels: { version: "v2" }, trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { simple: "LEAST_REQUEST" } }] } }] });
  const out = valid(translate({ resources: [dr], workloads: [caller, twoPorts("v1", 15202), twoPorts("v2", 15203)], proxy: caller }));
  const cluster = (name: string) => out.clusters.find((c) => c.name === name)!;
  const maxConnections = (c: Record<string, unknown>) => (c.circuit_breakers as { thresholds: Array<Record<string, number>> }).thresholds[0].max_connections;
  const p9080 = cluster("outbound|9080||multi.default.svc.cluster.local");
  assert.equal(p9080.lb_policy, "RANDOM");
  assert.equal(maxConnections(p9080), 5);
  assert.equal(p9080.outlier_detection, undefined);
  // Port 9090's settings replace the rule's wholesale: its connection pool falls back to the default, not to 5.
  const p9090 = cluster("outbound|9090||multi.default.svc.cluster.local");
  assert.equal(p9090.lb_policy, "RING_HASH");
  assert.equal(maxConnections(p9090), 4294967295);
  assert.equal((p9090.outlier_detection as Record<string, number>).consecutive_5xx, 2);
  assert.equal(cluster("outbound|9080|v2|multi.default.svc.cluster.local").lb_policy, "LEAST_REQUEST");
  assert.equal(cluster("outbound|9090|v2|multi.default.svc.cluster.local").lb_policy, "RING_HASH");
  // The route to port 9090 hashes by the port's consistentHash; the route to 9080 does not hash.
  const hashOf = (port: number) => ((out.routes.find((x) => String(x.name) === `${port}` || String(x.name).includes(`multi`) && String(x.name).includes(`${port}`))!.virtual_hosts as Array<{ routes: Array<{ route: Record<string, unknown> }> }>)[0].routes[0].route.hash_policy);
  assert.deepEqual(hashOf(9090), [{ header: { header_name: "x-user" } }]);
  assert.deepEqual(hashOf(9080), []);
});

test("with access logs on, TCP listeners log each connection too (as Istio's tcp_proxy access_log)", () => {
  const out = valid(translate({ resources: [echoDr, tlsEntry], workloads: l4Workloads, proxy: sleep, accessLog: { path: "/dev/stdout", json: false } }));
  const tcpProxies = out.listeners.flatMap((l) => (l.filter_chains as Chain[]).flatMap((c) => c.filters)).filter((f) => f.name === "envoy.filters.network.tcp_proxy");
  assert.ok(tcpProxies.length > 0);
  for (const f of tcpProxies) assert.equal((f.typed_config.access_log as Array<{ typed_config: { path: string } }>)[0].typed_config.path, "/dev/stdout");
  const without = valid(translate({ resources: [echoDr, tlsEntry], workloads: l4Workloads, proxy: sleep }));
  assert.ok(without.listeners.flatMap((l) => (l.filter_chains as Chain[]).flatMap((c) => c.filters)).every((f) => f.typed_config.access_log === undefined));
});
