// Gateway API translation and status tables: GatewayClass, Gateway listeners, HTTPRoute/GRPCRoute/TLSRoute/TCPRoute
// attachment (sectionName, allowedRoutes, hostnames), backendRefs with ReferenceGrant, filters, and the conditions
// (Accepted, Programmed, ResolvedRefs, Conflicted) with the spec's reasons; the gateway proxy's Envoy resources parse.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { translate } from "../../src/control/translate/translate.js";
import { convertGatewayApi, statusKey } from "../../src/control/translate/gateway-api.js";
import { meshServices } from "../../src/control/translate/translate.js";
import { parseMessage } from "../../src/xds/resource.js";

type Json = Record<string, unknown>;
const GW = "gateway.networking.k8s.io";

const proxy: Workload = {
  id: "router~127.0.0.1~web-1.default~default.svc.cluster.local", name: "web", namespace: "default", service: "web",
  labels: { app: "web", "gateway.networking.k8s.io/gateway-name": "web" }, serviceAccount: "web-service-account", address: "127.0.0.1", inboundPort: 18080,
  portTargets: { 80: 18080, 443: 18443, 5432: 15432 }, servicePorts: [{ port: 80, protocol: "HTTP" }, { port: 443, protocol: "HTTPS" }, { port: 5432, protocol: "TCP" }],
  upstreams: [], ready: true, sidecar: true, mtls: true, interception: "NONE",
};
const app = (service: string, namespace = "default", port = 9080): Workload => ({ id: `${service}-1.${namespace}`, name: service, namespace, service, labels: { app: service }, serviceAccount: service, address: "127.0.0.1", inboundPort: 15101, servicePorts: [{ port, protocol: "HTTP" }], appPort: 16101, upstreams: [], ready: true, sidecar: true, mtls: true, interception: "NONE" });
const workloads = [proxy, app("reviews"), app("ratings"), app("backend", "other"), app("db", "default", 5432), app("echo", "default", 7070)];

let seq = 0;
const r = (kind: string, name: string, spec: Json, namespace: string | undefined = "default", version = "v1"): IstioResource => ({ apiVersion: `${GW}/${version}`, kind, metadata: { name, ...(namespace ? { namespace } : {}), creationTimestamp: `2026-01-01T00:00:${String(seq++).padStart(2, "0")}Z`, generation: 1 }, spec });
const klass = r("GatewayClass", "trellis", { controllerName: "trellis.dev/gateway-controller" }, undefined);
const web = (listeners: Json[]) => r("Gateway", "web", { gatewayClassName: "trellis", listeners });
const httpListener = { name: "http", port: 80, protocol: "HTTP", hostname: "*.example.com" };
const route = (name: string, spec: Json, namespace = "default", kind = "HTTPRoute") => r(kind, name, spec, namespace, kind === "TLSRoute" || kind === "TCPRoute" ? "v1alpha2" : "v1");

function run(resources: IstioResource[], extra: { credentials?: (ns: string, name: string) => { material?: { certPem: string; keyPem: string }; error?: string } } = {}) {
  const out = translate({ resources, workloads, proxy, ...(extra.credentials ? { credentials: extra.credentials } : {}) });
  for (const [key, type] of [["listeners", "envoy.config.listener.v3.Listener"], ["routes", "envoy.config.route.v3.RouteConfiguration"], ["clusters", "envoy.config.cluster.v3.Cluster"]] as const) {
    for (const res of out[key]) { const p = parseMessage(type, res); assert.ok(p.ok, `${key}: ${JSON.stringify(!p.ok && p.errors)}`); }
  }
  const status = convertGatewayApi(resources, { services: meshServices(workloads, resources), proxies: [proxy], ...(extra.credentials ? { credentials: extra.credentials } : {}) }).status;
  return { out, status };
}
const cond = (list: unknown, type: string) => (list as Array<{ type: string; status: string; reason: string; message: string }>).find((c) => c.type === type)!;
const parent = (status: Map<string, Json>, kind: string, name: string, namespace = "default") => ((status.get(statusKey(kind, namespace, name))!.parents as Json[])[0]).conditions;

test("HTTPRoute on an HTTP listener: hostnames meet the listener's, PathPrefix is element-wise, weights and header filters kept", () => {
  const { out, status } = run([klass, web([httpListener]), route("reviews", {
    parentRefs: [{ name: "web", sectionName: "http" }], hostnames: ["reviews.example.com", "reviews.other.org"],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: "/api" }, headers: [{ name: "X-Test", value: "yes" }] }], filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-gw", value: "api" }] } }],
      backendRefs: [{ name: "reviews", port: 9080, weight: 90 }, { name: "ratings", port: 9080, weight: 10 }] }],
  })]);
  const listener = out.listeners.find((l) => l.name === "0.0.0.0_80") as { address: { socket_address: { port_value: number } } };
  assert.equal(listener.address.socket_address.port_value, 18080);
  const vhosts = out.routes.find((x) => x.name === "http.80")!.virtual_hosts as Array<{ name: string; routes: Array<Json & { match: Json; route: Json }> }>;
  const vh = vhosts.find((v) => v.name === "reviews.example.com:80")!;
  assert.ok(!vhosts.some((v) => v.name.startsWith("reviews.other.org")));
  assert.deepEqual(vh.routes.map((x) => x.match.path ?? x.match.prefix), ["/api", "/api/"]);
  assert.deepEqual((vh.routes[0].match.headers as Json[])[0], { name: "x-test", string_match: { exact: "yes" } });
  assert.deepEqual((vh.routes[0].route.weighted_clusters as { clusters: Json[] }).clusters.map((c) => [c.name, c.weight]), [["outbound|9080||reviews.default.svc.cluster.local", 90], ["outbound|9080||ratings.default.svc.cluster.local", 10]]);
  assert.equal((vh.routes[0].request_headers_to_add as Array<{ header: Json }>)[0].header.key, "x-gw");
  const gw = status.get(statusKey("Gateway", "default", "web"))!;
  assert.equal(cond(gw.conditions, "Accepted").status, "True");
  assert.equal(cond(gw.conditions, "Programmed").reason, "Programmed");
  assert.equal((gw.listeners as Json[])[0].attachedRoutes, 1);
  assert.equal(cond(parent(status, "HTTPRoute", "reviews"), "Accepted").reason, "Accepted");
  assert.equal(cond(parent(status, "HTTPRoute", "reviews"), "ResolvedRefs").status, "True");
  assert.equal(cond(status.get(statusKey("GatewayClass", undefined, "trellis"))!.conditions, "Accepted").status, "True");
});

test("backendRefs: a missing Service and another namespace's without a ReferenceGrant answer 500 and say why; a grant allows it", () => {
  const rule = (ns?: string) => ({ parentRefs: [{ name: "web" }], hostnames: ["a.example.com"], rules: [{ backendRefs: [{ name: ns ? "backend" : "nope", ...(ns ? { namespace: ns } : {}), port: 9080 }] }] });
  const missing = run([klass, web([httpListener]), route("missing", rule())]);
  assert.equal(cond(parent(missing.status, "HTTPRoute", "missing"), "ResolvedRefs").reason, "BackendNotFound");
  const vh = (missing.out.routes.find((x) => x.name === "http.80")!.virtual_hosts as Array<{ name: string; routes: Json[] }>).find((v) => v.name === "a.example.com:80")!;
  assert.deepEqual(vh.routes[0].direct_response, { status: 500 });
  const denied = run([klass, web([httpListener]), route("cross", rule("other"))]);
  assert.equal(cond(parent(denied.status, "HTTPRoute", "cross"), "ResolvedRefs").reason, "RefNotPermitted");
  const grant = r("ReferenceGrant", "allow", { from: [{ group: GW, kind: "HTTPRoute", namespace: "default" }], to: [{ group: "", kind: "Service" }] }, "other", "v1beta1");
  const allowed = run([klass, web([httpListener]), route("cross", rule("other")), grant]);
  assert.equal(cond(parent(allowed.status, "HTTPRoute", "cross"), "ResolvedRefs").status, "True");
  assert.ok(allowed.out.clusters.some((c) => c.name === "outbound|9080||backend.other.svc.cluster.local"));
});

test("attachment refused with the spec's reasons: no such listener, namespace not allowed, hostnames that never meet", () => {
  const base = { rules: [{ backendRefs: [{ name: "reviews", port: 9080 }] }] };
  const { status } = run([klass, web([httpListener]),
    route("no-section", { ...base, parentRefs: [{ name: "web", sectionName: "nope" }] }),
    route("other-ns", { ...base, parentRefs: [{ name: "web", namespace: "default" }] }, "other"),
    route("wrong-host", { ...base, parentRefs: [{ name: "web" }], hostnames: ["reviews.elsewhere.org"] }),
    route("no-gateway", { ...base, parentRefs: [{ name: "missing" }] }),
  ]);
  assert.equal(cond(parent(status, "HTTPRoute", "no-section"), "Accepted").reason, "NoMatchingParent");
  assert.equal(cond(parent(status, "HTTPRoute", "other-ns", "other"), "Accepted").reason, "NotAllowedByListeners");
  assert.equal(cond(parent(status, "HTTPRoute", "wrong-host"), "Accepted").reason, "NoMatchingListenerHostname");
  assert.equal(cond(parent(status, "HTTPRoute", "no-gateway"), "Accepted").reason, "NoMatchingParent");
  assert.equal((status.get(statusKey("Gateway", "default", "web"))!.listeners as Json[])[0].attachedRoutes, 0);
});

test("HTTPS listener: certificateRefs served as the gateway's SIMPLE certificate; a missing secret is InvalidCertificateRef", () => {
  const https = { name: "https", port: 443, protocol: "HTTPS", hostname: "secure.example.com", tls: { mode: "Terminate", certificateRefs: [{ name: "secure-cert" }] } };
  const rt = route("secure", { parentRefs: [{ name: "web", sectionName: "https" }], rules: [{ backendRefs: [{ name: "reviews", port: 9080 }] }] });
  const missing = run([klass, web([https]), rt], { credentials: () => ({ error: "no secret default/secure-cert" }) });
  const l = (missing.status.get(statusKey("Gateway", "default", "web"))!.listeners as Json[])[0];
  assert.equal(cond(l.conditions, "ResolvedRefs").reason, "InvalidCertificateRef");
  const present = run([klass, web([https]), rt], { credentials: () => ({ material: { certPem: "CERT", keyPem: "KEY" } }) });
  const chain = (present.out.listeners.find((x) => x.name === "0.0.0.0_443")!.filter_chains as Array<{ filter_chain_match: Json; transport_socket: { typed_config: { common_tls_context: { tls_certificate_sds_secret_configs: Json[] } } } }>)[0];
  assert.deepEqual(chain.filter_chain_match.server_names, ["secure.example.com"]);
  assert.equal(chain.transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name, "kubernetes://secure-cert");
});

test("TLSRoute through a Passthrough listener and TCPRoute through a TCP listener; GRPCRoute methods as paths", () => {
  const { out } = run([klass, web([
    { name: "tls", port: 443, protocol: "TLS", tls: { mode: "Passthrough" } },
    { name: "tcp", port: 5432, protocol: "TCP" },
    httpListener,
  ]),
  route("db-tls", { parentRefs: [{ name: "web", sectionName: "tls" }], hostnames: ["db.example.com"], rules: [{ backendRefs: [{ name: "db", port: 5432 }] }] }, "default", "TLSRoute"),
  route("db-tcp", { parentRefs: [{ name: "web", sectionName: "tcp" }], rules: [{ backendRefs: [{ name: "db", port: 5432 }] }] }, "default", "TCPRoute"),
  route("echo", { parentRefs: [{ name: "web", sectionName: "http" }], hostnames: ["echo.example.com"], rules: [{ matches: [{ method: { service: "echo.Echo", method: "Say" } }], backendRefs: [{ name: "echo", port: 7070 }] }] }, "default", "GRPCRoute"),
  ]);
  const tls = out.listeners.find((l) => l.name === "0.0.0.0_443")!.filter_chains as Array<{ filter_chain_match: Json; filters: Array<{ typed_config: Json }> }>;
  assert.deepEqual(tls[0].filter_chain_match.server_names, ["db.example.com"]);
  assert.equal(tls[0].filters[0].typed_config.cluster, "outbound|5432||db.default.svc.cluster.local");
  const tcp = out.listeners.find((l) => l.name === "0.0.0.0_5432")!.filter_chains as Array<{ filters: Array<{ typed_config: Json }> }>;
  assert.equal(tcp[0].filters[0].typed_config.cluster, "outbound|5432||db.default.svc.cluster.local");
  const echo = (out.routes.find((x) => x.name === "http.80")!.virtual_hosts as Array<{ name: string; routes: Array<{ match: Json }> }>).find((v) => v.name === "echo.example.com:80")!;
  assert.equal(echo.routes[0].match.path, "/echo.Echo/Say");
});

test("listeners on one port with different protocols are Conflicted (ProtocolConflict) and not served", () => {
  const { out, status } = run([klass, web([{ name: "a", port: 80, protocol: "HTTP" }, { name: "b", port: 80, protocol: "TCP" }])]);
  const listeners = status.get(statusKey("Gateway", "default", "web"))!.listeners as Json[];
  for (const l of listeners) assert.equal(cond(l.conditions, "Conflicted").reason, "ProtocolConflict");
  assert.ok(!out.listeners.some((l) => l.name === "0.0.0.0_80"));
});

test("Gateways of another controller's class, and a gateway proxy of another namespace, are left alone", () => {
  const theirs = r("GatewayClass", "other", { controllerName: "example.com/controller" }, undefined);
  const gw = r("Gateway", "web", { gatewayClassName: "other", listeners: [httpListener] });
  const { out, status } = run([theirs, gw]);
  assert.equal(status.size, 0);
  assert.ok(!out.listeners.some((l) => l.name === "0.0.0.0_80"));
  const elsewhere = { ...proxy, namespace: "other" };
  const o2 = translate({ resources: [klass, web([httpListener])], workloads, proxy: elsewhere });
  assert.ok(!o2.listeners.some((l) => l.name === "0.0.0.0_80"));
});

test("without a connected gateway proxy, the Gateway is Accepted but not Programmed, and says how to start one", () => {
  const status = convertGatewayApi([klass, web([httpListener])], { services: new Map(), proxies: [] }).status;
  const programmed = cond(status.get(statusKey("Gateway", "default", "web"))!.conditions, "Programmed");
  assert.equal(programmed.reason, "Pending");
  assert.match(programmed.message, /trellis gateway -n default --name web --labels gateway.networking.k8s.io\/gateway-name=web/);
});

test("GAMMA: an HTTPRoute whose parentRef is a Service routes the mesh's calls to it; one naming a missing Service is NoMatchingParent", () => {
  const caller: Workload = { ...app("productpage"), upstreams: [{ host: "reviews", port: 9080, localPort: 19001 }] };
  const resources = [
    route("reviews-to-ratings", { parentRefs: [{ group: "", kind: "Service", name: "reviews", port: 9080 }], rules: [{ filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "x-gamma", value: "yes" }] } }], backendRefs: [{ name: "ratings", port: 9080 }] }] }),
    route("ghost", { parentRefs: [{ group: "", kind: "Service", name: "nope" }], rules: [{ backendRefs: [{ name: "ratings", port: 9080 }] }] }),
  ];
  const out = translate({ resources, workloads: [...workloads, caller], proxy: caller });
  const rc = out.routes.find((x) => String(x.name).includes("reviews.default.svc.cluster.local"))!;
  const [r0] = (rc.virtual_hosts as Array<{ routes: Array<Json & { route: Json }> }>)[0].routes;
  assert.equal(r0.route.cluster, "outbound|9080||ratings.default.svc.cluster.local");
  assert.equal((r0.response_headers_to_add as Array<{ header: Json }>)[0].header.key, "x-gamma");
  const status = convertGatewayApi(resources, { services: meshServices(workloads, resources) }).status;
  assert.equal(cond(parent(status, "HTTPRoute", "reviews-to-ratings"), "Accepted").status, "True");
  assert.equal(cond(parent(status, "HTTPRoute", "ghost"), "Accepted").reason, "NoMatchingParent");
});
