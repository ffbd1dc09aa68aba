// Istio Gateway translation tables: a gateway proxy's listeners, routes and SDS secrets from Gateways and the
// VirtualServices bound to them (HTTP, namespace/host syntax, httpsRedirect, SIMPLE, MUTUAL, PASSTHROUGH,
// ISTIO_MUTUAL, several Gateways on one port), every resource parsed as Envoy's proto, and what cannot be served
// reported by name while the rest is served.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { translate } from "../../src/control/translate/translate.js";
import type { CredentialLookup } from "../../src/control/translate/gateway-tls.js";
import { parseMessage } from "../../src/xds/resource.js";
import { createTestCa, issueCert } from "../fixtures/gateway-certs.js";

type Json = Record<string, unknown>;

const gateway: Workload = {
  id: "router~127.0.0.1~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local", name: "istio-ingressgateway", namespace: "istio-system",
  service: "istio-ingressgateway", labels: { istio: "ingressgateway", app: "istio-ingressgateway" }, serviceAccount: "istio-ingressgateway-service-account",
  address: "127.0.0.1", inboundPort: 18080, portTargets: { 8080: 18080, 443: 18443, 9443: 19443, 31400: 31400 },
  servicePorts: [{ port: 8080, protocol: "HTTP" }, { port: 443, protocol: "HTTPS" }, { port: 9443, protocol: "HTTPS" }, { port: 31400, protocol: "TCP" }],
  upstreams: [], ready: true, sidecar: true, mtls: true, interception: "NONE",
};
const app = (service: string, namespace = "default"): Workload => ({ id: `${service}-1.${namespace}`, name: service, namespace, service, labels: { app: service }, serviceAccount: service, address: "127.0.0.1", inboundPort: 15101, servicePorts: [{ port: 9080, protocol: "HTTP" }], appPort: 16101, upstreams: [], ready: true, sidecar: true, mtls: true, interception: "NONE" });
const workloads = [gateway, app("productpage"), app("httpbin", "foo"), app("nginx")];

let seq = 0;
const r = (kind: string, name: string, spec: Json, namespace = "default"): IstioResource => ({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace, creationTimestamp: `2026-01-01T00:00:${String(seq++).padStart(2, "0")}Z` }, spec });
const gw = (name: string, servers: Json[], namespace = "default") => r("Gateway", name, { selector: { istio: "ingressgateway" }, servers }, namespace);
const http = (hosts: string[], number = 8080, extra: Json = {}) => ({ port: { number, name: "http", protocol: "HTTP" }, hosts, ...extra });
const vs = (name: string, hosts: string[], gateways: string[], http: Json[], namespace = "default", extra: Json = {}) => r("VirtualService", name, { hosts, gateways, http, ...extra }, namespace);
const toProductpage = [{ match: [{ uri: { exact: "/productpage" } }], route: [{ destination: { host: "productpage", port: { number: 9080 } } }] }];

const secrets = new Map<string, { certPem: string; keyPem: string; caPem?: string }>();
const credentials: CredentialLookup = (ns, name) => {
  const m = secrets.get(`${ns}/${name}`);
  return m ? { material: m } : { error: `no secret ${ns}/${name}` };
};

before(async () => {
  const ca = await createTestCa();
  const cert = await issueCert(ca, ["bookinfo.example.com"]);
  secrets.set("istio-system/bookinfo-cred", cert);
  secrets.set("istio-system/bookinfo-mutual", { ...cert, caPem: ca.certPem });
});

function run(resources: IstioResource[]) {
  const out = translate({ resources, workloads, proxy: gateway, credentials });
  const types: Array<[keyof typeof out, string]> = [["clusters", "envoy.config.cluster.v3.Cluster"], ["endpoints", "envoy.config.endpoint.v3.ClusterLoadAssignment"], ["listeners", "envoy.config.listener.v3.Listener"], ["routes", "envoy.config.route.v3.RouteConfiguration"], ["secrets", "envoy.extensions.transport_sockets.tls.v3.Secret"]];
  for (const [key, type] of types) for (const res of (out[key] as Json[] | undefined) ?? []) {
    const p = parseMessage(type, res);
    assert.ok(p.ok, `${key}: ${JSON.stringify(!p.ok && p.errors)}`);
  }
  return out;
}

const listener = (out: ReturnType<typeof run>, port: number) => out.listeners.find((l) => l.name === `0.0.0.0_${port}`) as Json & { filter_chains: Json[]; address: { socket_address: { port_value: number } } } | undefined;
const vhosts = (out: ReturnType<typeof run>, name: string) => (out.routes.find((x) => x.name === name)?.virtual_hosts ?? []) as Array<{ name: string; domains: string[]; routes: Json[] }>;

test("bookinfo-gateway: an HTTP listener on the gateway's published port, the VirtualService's routes under *, productpage's cluster", () => {
  const out = run([gw("bookinfo-gateway", [http(["*"])]), vs("bookinfo", ["*"], ["bookinfo-gateway"], toProductpage)]);
  assert.equal(listener(out, 8080)?.address.socket_address.port_value, 18080);
  const [vh] = vhosts(out, "http.8080");
  assert.deepEqual(vh.domains, ["*"]);
  assert.equal((vh.routes[0].match as Json).path, "/productpage");
  assert.equal((vh.routes[0].route as Json).cluster, "outbound|9080||productpage.default.svc.cluster.local");
  assert.ok(out.clusters.some((c) => c.name === "outbound|9080||productpage.default.svc.cluster.local"));
  assert.deepEqual(out.gatewayProblems, []);
  // The gateway is no sidecar: no inbound listener.
  assert.ok(!out.listeners.some((l) => l.name === "virtualInbound"));
});

test("a VirtualService bound only to a gateway stays off sidecars; one bound to mesh and the gateway serves both", () => {
  const gatewayOnly = vs("pp-gw", ["productpage"], ["bookinfo-gateway"], [{ route: [{ destination: { host: "productpage" } }], headers: { response: { set: { "x-via": "gateway" } } } }]);
  const both = vs("pp-both", ["productpage"], ["bookinfo-gateway", "mesh"], [{ route: [{ destination: { host: "productpage" } }], headers: { response: { set: { "x-via": "both" } } } }]);
  const sidecar: Workload = { ...app("caller"), upstreams: [{ host: "productpage", port: 9080, localPort: 19000 }] };
  const sidecarRoutes = (resources: IstioResource[]) => JSON.stringify(translate({ resources, workloads: [...workloads, sidecar], proxy: sidecar }).routes);
  assert.ok(!sidecarRoutes([gw("bookinfo-gateway", [http(["*"])]), gatewayOnly]).includes("x-via"));
  assert.ok(sidecarRoutes([gw("bookinfo-gateway", [http(["*"])]), both]).includes('"both"'));
  const out = run([gw("bookinfo-gateway", [http(["*"])]), both]);
  assert.deepEqual(vhosts(out, "http.8080").find((v) => v.name.startsWith("productpage"))?.domains, ["productpage.default.svc.cluster.local", "productpage.default.svc.cluster.local:8080"]);
});

test("server hosts in namespace/host syntax admit only VirtualServices of that namespace; host intersections become domains", () => {
  const resources = [
    gw("gw", [http(["foo/*.example.com", "./local.example.com"])], "istio-system"),
    vs("in-foo", ["httpbin.example.com"], ["istio-system/gw"], [{ route: [{ destination: { host: "httpbin" } }] }], "foo"),
    vs("in-default", ["other.example.com"], ["istio-system/gw"], toProductpage),
    vs("in-gw-ns", ["*"], ["gw"], [{ route: [{ destination: { host: "productpage.default.svc.cluster.local" } }] }], "istio-system"),
  ];
  const names = vhosts(run(resources), "http.8080").map((v) => v.name).sort();
  assert.deepEqual(names, ["blackhole:8080", "httpbin.example.com:8080", "local.example.com:8080"]);
});

test("a match's gateways list picks the gateway's routes; unmatched hosts get Istio's 404 blackhole", () => {
  const out = run([gw("gw", [http(["a.example.com"])]), vs("v", ["a.example.com"], ["gw", "mesh"], [
    { match: [{ gateways: ["mesh"], uri: { prefix: "/mesh-only" } }], route: [{ destination: { host: "nginx" } }] },
    { match: [{ gateways: ["gw"], uri: { prefix: "/gw-only" } }], route: [{ destination: { host: "productpage" } }] },
  ])]);
  const all = vhosts(out, "http.8080");
  const a = all.find((v) => v.name === "a.example.com:8080")!;
  assert.deepEqual(a.routes.map((x) => (x.match as Json).prefix), ["/gw-only"]);
  const blackhole = all.find((v) => v.name === "blackhole:8080")!;
  assert.equal((blackhole.routes[0].direct_response as Json).status, 404);
});

test("httpsRedirect answers every request to the server's hosts with a 301 to https", () => {
  const out = run([gw("gw", [http(["secure.example.com"], 8080, { tls: { httpsRedirect: true } })]), vs("v", ["secure.example.com"], ["gw"], toProductpage)]);
  const vh = vhosts(out, "http.8080").find((v) => v.name === "secure.example.com:8080")!;
  assert.deepEqual(vh.routes[0].redirect, { https_redirect: true, response_code: "MOVED_PERMANENTLY" });
});

test("HTTPS SIMPLE: a chain matched on the server's SNI names, its certificate from the credentialName over SDS", () => {
  const out = run([
    gw("gw", [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["bookinfo.example.com"], tls: { mode: "SIMPLE", credentialName: "bookinfo-cred" } }]),
    vs("v", ["bookinfo.example.com"], ["gw"], toProductpage),
  ]);
  const l = listener(out, 443)!;
  assert.equal(l.address.socket_address.port_value, 18443);
  const [chain] = l.filter_chains as Array<{ filter_chain_match: Json; transport_socket: { typed_config: { common_tls_context: Json; require_client_certificate?: boolean } } }>;
  assert.deepEqual(chain.filter_chain_match.server_names, ["bookinfo.example.com"]);
  assert.deepEqual(chain.transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs, [{ name: "kubernetes://bookinfo-cred", sds_config: { ads: {}, resource_api_version: "V3" } }]);
  assert.equal(chain.transport_socket.typed_config.require_client_certificate, undefined);
  assert.deepEqual(out.secrets?.map((s) => s.name), ["kubernetes://bookinfo-cred"]);
  assert.ok(vhosts(out, "https.443.0.gw.default")[0].domains.includes("bookinfo.example.com"));
});

test("HTTPS MUTUAL: client certificates required and checked against the secret's CA (kubernetes://NAME-cacert)", () => {
  const out = run([
    gw("gw", [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["bookinfo.example.com"], tls: { mode: "MUTUAL", credentialName: "bookinfo-mutual" } }]),
    vs("v", ["bookinfo.example.com"], ["gw"], toProductpage),
  ]);
  const ctx = (listener(out, 443)!.filter_chains[0] as { transport_socket: { typed_config: { common_tls_context: Json; require_client_certificate: boolean } } }).transport_socket.typed_config;
  assert.equal(ctx.require_client_certificate, true);
  assert.equal((ctx.common_tls_context.combined_validation_context as { validation_context_sds_secret_config: { name: string } }).validation_context_sds_secret_config.name, "kubernetes://bookinfo-mutual-cacert");
  assert.deepEqual(out.secrets?.map((s) => s.name).sort(), ["kubernetes://bookinfo-mutual", "kubernetes://bookinfo-mutual-cacert"]);
});

test("a server whose secret is missing, or MUTUAL without a CA, is not served and says why; the other servers are", () => {
  const out = run([
    gw("gw", [
      { name: "missing", port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["a.example.com"], tls: { mode: "SIMPLE", credentialName: "nope" } },
      { name: "no-ca", port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["b.example.com"], tls: { mode: "MUTUAL", credentialName: "bookinfo-cred" } },
      { name: "good", port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["bookinfo.example.com"], tls: { mode: "SIMPLE", credentialName: "bookinfo-cred" } },
      http(["*"]),
    ]),
    vs("v", ["*"], ["gw"], toProductpage),
  ]);
  assert.deepEqual(listener(out, 443)!.filter_chains.map((c) => (c.filter_chain_match as Json).server_names), [["bookinfo.example.com"]]);
  assert.ok(listener(out, 8080));
  const byServer = Object.fromEntries((out.gatewayProblems ?? []).map((p) => [p.server, p.message]));
  assert.match(byServer.missing, /credentialName nope: no secret istio-system\/nope/);
  assert.match(byServer["no-ca"], /MUTUAL needs the clients' CA.*--cacert/);
});

test("PASSTHROUGH: one chain per bound tls route, on its sniHosts, to the destination without terminating TLS", () => {
  const out = run([
    gw("gw", [{ port: { number: 443, name: "tls", protocol: "TLS" }, hosts: ["nginx.example.com"], tls: { mode: "PASSTHROUGH" } }]),
    vs("v", ["nginx.example.com"], ["gw"], [], "default", { tls: [{ match: [{ port: 443, sniHosts: ["nginx.example.com"] }], route: [{ destination: { host: "nginx", port: { number: 9080 } } }] }] }),
  ]);
  const [chain] = listener(out, 443)!.filter_chains as Array<{ filter_chain_match: Json; transport_socket?: Json; filters: Array<{ typed_config: Json }> }>;
  assert.deepEqual(chain.filter_chain_match.server_names, ["nginx.example.com"]);
  assert.equal(chain.transport_socket, undefined);
  assert.equal(chain.filters[0].typed_config.cluster, "outbound|9080||nginx.default.svc.cluster.local");
  assert.ok(listener(out, 443)!.listener_filters);
});

test("ISTIO_MUTUAL: the gateway's own mesh certificate, mesh clients' certificates required", () => {
  const out = run([
    gw("egress", [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["api.external.test"], tls: { mode: "ISTIO_MUTUAL" } }]),
    vs("v", ["api.external.test"], ["egress"], [{ route: [{ destination: { host: "nginx" } }] }]),
  ]);
  const [chain] = listener(out, 443)!.filter_chains as Array<{ filter_chain_match?: Json; transport_socket: { typed_config: { common_tls_context: Json; require_client_certificate: boolean } } }>;
  assert.equal(chain.filter_chain_match, undefined);
  assert.equal(chain.transport_socket.typed_config.require_client_certificate, true);
  assert.equal((chain.transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs as Array<{ name: string }>)[0].name, "default");
});

test("several Gateways on one port merge into one listener; a second claim on a host and a protocol clash are reported", () => {
  const out = run([
    gw("first", [http(["a.example.com"])]),
    gw("second", [http(["b.example.com", "a.example.com"])]),
    gw("tls-on-http-port", [{ port: { number: 8080, name: "https", protocol: "HTTPS" }, hosts: ["c.example.com"], tls: { mode: "SIMPLE", credentialName: "bookinfo-cred" } }]),
    vs("a", ["a.example.com"], ["first", "second"], toProductpage),
    vs("b", ["b.example.com"], ["second"], [{ route: [{ destination: { host: "nginx" } }] }]),
  ]);
  assert.equal(out.listeners.filter((l) => String(l.name).startsWith("0.0.0.0_")).length, 1);
  assert.deepEqual(vhosts(out, "http.8080").map((v) => v.name), ["a.example.com:8080", "b.example.com:8080", "blackhole:8080"]);
  const messages = (out.gatewayProblems ?? []).map((p) => `${p.gateway}: ${p.message}`);
  assert.ok(messages.some((m) => /^default\/second: host a.example.com on port 8080 is already served by default\/first/.test(m)), messages.join("\n"));
  assert.ok(messages.some((m) => /^default\/tls-on-http-port: port 8080 is already served as HTTP by default\/first .* TLS server cannot share it/.test(m)), messages.join("\n"));
});

test("a server on a port the gateway does not publish, or with settings the proxy cannot honour, is refused by name", () => {
  const out = run([gw("gw", [
    http(["*"], 9999),
    { name: "ciphers", port: { number: 9443, name: "https", protocol: "HTTPS" }, hosts: ["*"], tls: { mode: "SIMPLE", credentialName: "bookinfo-cred", cipherSuites: ["ECDHE-RSA-AES128-GCM-SHA256"] } },
    { name: "no-mode", port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["*"] },
  ])]);
  const messages = (out.gatewayProblems ?? []).map((p) => p.message).join("\n");
  assert.match(messages, /port 9999 is not a port of this gateway .*--port 9999/);
  assert.match(messages, /cipherSuites is not supported/);
  assert.match(messages, /needs tls.mode/);
  assert.equal(out.listeners.filter((l) => String(l.name).startsWith("0.0.0.0_")).length, 0);
});

test("Gateways whose selector does not match the proxy, and Gateway API Gateways, do not configure it", () => {
  const other = { ...gw("other", [http(["*"])]), spec: { selector: { istio: "egressgateway" }, servers: [http(["*"])] } };
  const gatewayApi = { ...gw("api", [http(["*"])]), apiVersion: "gateway.networking.k8s.io/v1" };
  const out = run([other, gatewayApi]);
  assert.equal(out.listeners.filter((l) => String(l.name).startsWith("0.0.0.0_")).length, 0);
});
