// Istio's ingress tasks with real processes (trellis control with its CA, a workload under trellis run, trellis
// gateway): Ingress Gateways (HTTP by host and path, 404 otherwise, and still working under STRICT mTLS), Secure
// Gateways (SIMPLE from `trellis secret create tls`, rotated without a restart; MUTUAL), Ingress without TLS
// termination (PASSTHROUGH by SNI to a TLS backend), and a server whose secret is missing reported while the others
// keep serving.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { freePort } from "../../src/universal/workload-spec.js";
import { createTestCa, issueCert, type TestCa } from "../fixtures/gateway-certs.js";
import { GatewayMesh, httpGet, httpsGet, peerCertificate } from "../fixtures/gateway-mesh.js";
import { until } from "../fixtures/until.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-ingress-"));
const mesh = new GatewayMesh(join(dir, "state"));
const ports = { http: 0, https: 0, tls: 0 };
let ca: TestCa;

after(async () => {
  await mesh.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ECHO = `require("http").createServer((q, s) => { s.setHeader("content-type", "application/json"); s.end(JSON.stringify({ path: q.url, host: q.headers.host, from: "httpbin" })); }).listen(process.env.PORT, "127.0.0.1", () => console.log("httpbin ready"))`;

const net = (kind: string, name: string, spec: unknown, namespace = "default") => ({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace }, spec });

function secretCreate(name: string, files: { cert: string; key: string; cacert?: string }): string {
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "secret", "create", "tls", name, "-n", "istio-system", "--cert", files.cert, "--key", files.key, ...(files.cacert ? ["--cacert", files.cacert] : []), "--control", `127.0.0.1:${mesh.api}`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

async function writeCert(name: string, signer: TestCa, hosts: string[]): Promise<{ cert: string; key: string; certPem: string }> {
  const c = await issueCert(signer, hosts);
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, c.certPem);
  writeFileSync(key, c.keyPem, { mode: 0o600 });
  return { cert, key, certPem: c.certPem };
}

before(async () => {
  ca = await createTestCa();
  await mesh.start();
  await mesh.run("httpbin", "8000", ECHO, /httpbin ready/);
  // The TLS backend for PASSTHROUGH: it terminates TLS itself with its own certificate.
  const backend = await writeCert("nginx", ca, ["nginx.example.com"]);
  const tlsApp = `require("https").createServer({ cert: require("fs").readFileSync(${JSON.stringify(backend.cert)}), key: require("fs").readFileSync(${JSON.stringify(backend.key)}) }, (q, s) => s.end("nginx over its own TLS")).listen(process.env.PORT, "127.0.0.1", () => console.log("nginx ready"))`;
  await mesh.run("my-nginx", "8443/TCP", tlsApp, /nginx ready/);
  [ports.http, ports.https, ports.tls] = [await freePort(), await freePort(), await freePort()];
  await mesh.gateway(["--port", `8080=${ports.http}/HTTP`, "--port", `443=${ports.https}/HTTPS`, "--port", `9443=${ports.tls}/TLS`]);
});

test("Ingress Gateways: the VirtualService's paths for its host through the gateway; other paths and hosts 404", async () => {
  await mesh.apply(net("Gateway", "httpbin-gateway", { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["httpbin.example.com"] }] }));
  await mesh.apply(net("VirtualService", "httpbin", { hosts: ["httpbin.example.com"], gateways: ["httpbin-gateway"], http: [{ match: [{ uri: { prefix: "/status" } }, { uri: { prefix: "/delay" } }], route: [{ destination: { host: "httpbin", port: { number: 8000 } } }] }] }));
  await until("the gateway routes /status/200", async () => (await httpGet(ports.http, "httpbin.example.com", "/status/200").catch(() => ({ status: 0 }))).status === 200);
  const ok = await httpGet(ports.http, "httpbin.example.com", "/status/200");
  assert.deepEqual(JSON.parse(ok.body), { path: "/status/200", host: "httpbin.example.com", from: "httpbin" });
  assert.equal((await httpGet(ports.http, "httpbin.example.com", "/headers")).status, 404);
  assert.equal((await httpGet(ports.http, "other.example.com", "/status/200")).status, 404);
});

test("namespace-wide STRICT mTLS: the gateway reaches the workload with its mesh certificate", async () => {
  await mesh.apply({ apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", namespace: "default" }, spec: { mtls: { mode: "STRICT" } } });
  // Give the sidecar time to take STRICT; every answer meanwhile and after must be a 200.
  for (let i = 0; i < 10; i++) {
    assert.equal((await httpGet(ports.http, "httpbin.example.com", "/status/200")).status, 200);
    await new Promise((r) => setTimeout(r, 200));
  }
});

test("Secure Gateways SIMPLE: the secret's certificate for the host's SNI; a new secret rotates it without a restart", async () => {
  const first = await writeCert("httpbin-1", ca, ["httpbin.example.com"]);
  assert.match(secretCreate("httpbin-credential", first), /secret\/httpbin-credential in istio-system: stored \(certificate for httpbin.example.com/);
  await mesh.apply(net("Gateway", "httpbin-gateway", { selector: { istio: "ingressgateway" }, servers: [
    { port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["httpbin.example.com"] },
    { port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["httpbin.example.com"], tls: { mode: "SIMPLE", credentialName: "httpbin-credential" } },
  ] }));
  await until("HTTPS answers with the first certificate", async () => (await httpsGet(ports.https, "httpbin.example.com", "/status/418", ca.certPem).catch(() => undefined))?.status === 200);
  const a = await httpsGet(ports.https, "httpbin.example.com", "/status/418", ca.certPem);
  assert.equal(JSON.parse(a.body).path, "/status/418");
  assert.equal(a.peer.fingerprint256, new (await import("node:crypto")).X509Certificate(first.certPem).fingerprint256);
  const second = await writeCert("httpbin-2", ca, ["httpbin.example.com"]);
  secretCreate("httpbin-credential", second);
  const want = new (await import("node:crypto")).X509Certificate(second.certPem).fingerprint256;
  await until("new connections get the rotated certificate", async () => (await httpsGet(ports.https, "httpbin.example.com", "/status/200", ca.certPem).catch(() => undefined))?.peer.fingerprint256 === want);
  // The HTTP server kept serving throughout.
  assert.equal((await httpGet(ports.http, "httpbin.example.com", "/status/200")).status, 200);
});

test("Secure Gateways MUTUAL: clients without a certificate the secret's CA signed are refused", async () => {
  const clientCa = await createTestCa("Client Org");
  const server = await writeCert("mutual", ca, ["httpbin.example.com"]);
  const caFile = join(dir, "client-ca.crt");
  writeFileSync(caFile, clientCa.certPem);
  secretCreate("httpbin-mutual", { ...server, cacert: caFile });
  await mesh.apply(net("Gateway", "httpbin-gateway", { selector: { istio: "ingressgateway" }, servers: [
    { port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["httpbin.example.com"] },
    { port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["httpbin.example.com"], tls: { mode: "MUTUAL", credentialName: "httpbin-mutual" } },
  ] }));
  const client = await issueCert(clientCa, ["client.example.com"]);
  const withCert = () => httpsGet(ports.https, "httpbin.example.com", "/status/200", ca.certPem, { cert: client.certPem, key: client.keyPem });
  // The SIMPLE server before it took any client: MUTUAL is in force once a client without a certificate is refused.
  await until("MUTUAL refuses a client without a certificate", () => httpsGet(ports.https, "httpbin.example.com", "/status/200", ca.certPem).then(() => false, () => true));
  assert.equal((await withCert()).status, 200);
  const stranger = await issueCert(await createTestCa("Stranger"), ["client.example.com"]);
  await assert.rejects(httpsGet(ports.https, "httpbin.example.com", "/status/200", ca.certPem, { cert: stranger.certPem, key: stranger.keyPem }), /certificate|socket hang up|ECONNRESET|alert/i);
});

test("httpsRedirect: the HTTP server answers 301 to https while the HTTPS server serves the routes", async () => {
  await mesh.apply(net("Gateway", "httpbin-gateway", { selector: { istio: "ingressgateway" }, servers: [
    { port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["httpbin.example.com"], tls: { httpsRedirect: true } },
    { port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["httpbin.example.com"], tls: { mode: "SIMPLE", credentialName: "httpbin-credential" } },
  ] }));
  await until("plain HTTP is redirected", async () => (await httpGet(ports.http, "httpbin.example.com", "/status/200").catch(() => ({ status: 0 }))).status === 301);
  const r = await httpGet(ports.http, "httpbin.example.com", "/status/200?x=1");
  assert.equal(r.headers.location, "https://httpbin.example.com/status/200?x=1");
  assert.equal((await httpsGet(ports.https, "httpbin.example.com", "/status/200", ca.certPem)).status, 200);
  // Plain HTTP again for the tests after this one.
  await mesh.apply(net("Gateway", "httpbin-gateway", { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["httpbin.example.com"] }] }));
  await until("plain HTTP is served again", async () => (await httpGet(ports.http, "httpbin.example.com", "/status/200").catch(() => ({ status: 0 }))).status === 200);
});

test("a server whose secret is missing is not served and the control plane says why; the others keep serving", async () => {
  await mesh.apply(net("Gateway", "broken-gateway", { selector: { istio: "ingressgateway" }, servers: [
    { name: "no-secret", port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["broken.example.com"], tls: { mode: "SIMPLE", credentialName: "does-not-exist" } },
  ] }));
  await until("the problem is reported", async () => (await mesh.problems()).some((g) => g.problems.some((p) => p.server === "no-secret" && /no secret istio-system\/does-not-exist/.test(p.message))));
  assert.equal((await httpGet(ports.http, "httpbin.example.com", "/status/200")).status, 200);
  await assert.rejects(httpsGet(ports.https, "broken.example.com", "/", ca.certPem));
});

test("Ingress without TLS termination: PASSTHROUGH by SNI reaches the backend's own TLS", async () => {
  await mesh.apply(net("Gateway", "nginx-gateway", { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 9443, name: "tls", protocol: "TLS" }, hosts: ["nginx.example.com"], tls: { mode: "PASSTHROUGH" } }] }));
  await mesh.apply(net("VirtualService", "nginx", { hosts: ["nginx.example.com"], gateways: ["nginx-gateway"], tls: [{ match: [{ port: 9443, sniHosts: ["nginx.example.com"] }], route: [{ destination: { host: "my-nginx", port: { number: 8443 } } }] }] }));
  await until("the backend answers through the gateway", async () => (await httpsGet(ports.tls, "nginx.example.com", "/", ca.certPem).catch(() => undefined))?.body === "nginx over its own TLS");
  const peer = await peerCertificate(ports.tls, "nginx.example.com");
  assert.match(peer.subjectaltname ?? "", /DNS:nginx.example.com/);
});

test("Gateway API: trellis apply of a GatewayClass, Gateway and HTTPRoute; the labelled gateway serves it; trellis get shows the status", async () => {
  const file = join(dir, "gateway-api.yaml");
  writeFileSync(file, [
    "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: trellis}\nspec: {controllerName: trellis.dev/gateway-controller}",
    "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: web, namespace: default}\nspec:\n  gatewayClassName: trellis\n  listeners: [{name: http, port: 80, protocol: HTTP, hostname: \"*.example.com\"}]",
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: httpbin, namespace: default}\nspec:\n  parentRefs: [{name: web}]\n  hostnames: [api.example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /get}}]\n    backendRefs: [{name: httpbin, port: 8000}]",
  ].join("\n---\n"));
  const cli = (args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", ...args, "--control", `127.0.0.1:${mesh.api}`], { encoding: "utf8" });
  const applied = cli(["apply", "-f", file]);
  assert.equal(applied.status, 0, applied.stderr + applied.stdout);
  const pending = JSON.parse(cli(["get", "gateway.gateway.networking.k8s.io", "web", "-o", "json"]).stdout) as { status: { conditions: Array<{ type: string; reason: string }> } };
  assert.equal(pending.status.conditions.find((c) => c.type === "Programmed")?.reason, "Pending");
  const port = await freePort();
  await mesh.gateway(["-n", "default", "--name", "web", "--labels", "gateway.networking.k8s.io/gateway-name=web", "--port", `80=${port}/HTTP`]);
  await until("the HTTPRoute answers through the Gateway API gateway", async () => (await httpGet(port, "api.example.com", "/get/x").catch(() => ({ status: 0 }))).status === 200);
  assert.equal(JSON.parse((await httpGet(port, "api.example.com", "/get/x")).body).path, "/get/x");
  assert.equal((await httpGet(port, "api.example.com", "/getter")).status, 404);
  const gw = JSON.parse(cli(["get", "gateway.gateway.networking.k8s.io", "web", "-o", "json"]).stdout) as { status: { conditions: Array<{ type: string; status: string }>; listeners: Array<{ attachedRoutes: number }> } };
  assert.equal(gw.status.conditions.find((c) => c.type === "Programmed")?.status, "True");
  assert.equal(gw.status.listeners[0].attachedRoutes, 1);
  const route = JSON.parse(cli(["get", "httproute", "httpbin", "-o", "json"]).stdout) as { status: { parents: Array<{ conditions: Array<{ type: string; status: string }> }> } };
  assert.deepEqual(route.status.parents[0].conditions.map((c) => `${c.type}=${c.status}`), ["Accepted=True", "ResolvedRefs=True"]);
});
