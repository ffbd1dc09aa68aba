// Istio's external authorization task: a CUSTOM AuthorizationPolicy sends httpbin's /headers requests to an HTTP
// ext-authz service (in the mesh, behind its own sidecar) named by the mesh config's extensionProviders. The service
// allows requests carrying `x-ext-authz: allow`; others get its 403 and headers; paths the policy does not name are
// never sent to it; an unreachable service denies. The sample service's behaviour is Istio's ext-authz sample's.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { parseMeshConfig } from "../../src/control/mesh-config.js";
import { scopeFor } from "../fixtures/token-scope.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { backend, type Backend } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-ext-authz-"));
let cp: ControlPlane;
let httpbin: Backend;
let extAuthz: Backend;
const proxies: Record<string, RunningProxy> = {};
let local = 0;
const checks: Array<{ method: string; url: string; header?: string }> = [];

const MESH = `
extensionProviders:
- name: sample-ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz.default.svc.cluster.local
    port: "8000"
    timeout: 2s
    includeRequestHeadersInCheck: ["x-ext-authz"]
    headersToUpstreamOnAllow: ["x-ext-authz-check-result"]
`;

before(async () => {
  const mesh = parseMeshConfig(MESH);
  assert.ok(mesh.ok, JSON.stringify(!mesh.ok && mesh.errors));
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, mesh: mesh.value, log: () => {} });
  await cp.start();
  const tokens = TokenIssuer.open(join(dir, "state", "ca", "token-key"), "cluster.local");
  const rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
  const ca = (sa: string) => ({ address: `127.0.0.1:${cp.ports.ca}`, rootsPem, token: () => tokens.issue("default", sa, 600, Date.now(), scopeFor(sa, { version: "v1" })) });
  httpbin = await backend((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  // Istio's samples/extauthz HTTP server: allow on `x-ext-authz: allow`, say so in x-ext-authz-check-result.
  extAuthz = await backend((req, res) => {
    const header = req.headers["x-ext-authz"] as string | undefined;
    checks.push({ method: req.method ?? "", url: req.url ?? "", header });
    if (header === "allow") {
      res.writeHead(200, { "x-ext-authz-check-result": "allowed" });
      return void res.end();
    }
    res.writeHead(403, { "x-ext-authz-check-result": "denied", "content-type": "text/plain" });
    res.end(`denied by ext_authz for not found header \`x-ext-authz: allow\` in the request`);
  });
  const meta = { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1", MTLS_READY: true };
  const server = async (name: string, port: number, appPort: number) => {
    proxies[name] = await startProxy(sidecarBootstrap(cp.ports.xds, `${name}-v1`, { ...meta, SERVICE: name, SERVICE_ACCOUNT: name, LABELS: { app: name, version: "v1" }, INBOUND_PORT: await freePort(), APP_PORT: appPort, SERVICE_PORTS: [{ port, name: "http", protocol: "HTTP" }] }), { adminPort: 0, drainTimeoutMs: 100, ca: ca(name) });
  };
  await server("httpbin", 8000, httpbin.port);
  await server("ext-authz", 8000, extAuthz.port);
  local = await freePort();
  proxies.sleep = await startProxy(sidecarBootstrap(cp.ports.xds, "sleep-v1", { ...meta, SERVICE_ACCOUNT: "sleep", LABELS: { app: "sleep", version: "v1" }, UPSTREAMS: [{ host: "httpbin", port: 8000, localPort: local }] }), { adminPort: 0, drainTimeoutMs: 100, ca: ca("sleep") });
  await until("the mesh to serve httpbin", async () => (await fetch(`http://127.0.0.1:${local}/ip`).then((r) => r.status, () => 0)) === 200, 15_000);
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/security.istio.io/v1/namespaces/default/authorizationpolicies`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "ext-authz", namespace: "default" }, spec: { selector: { matchLabels: { app: "httpbin" } }, action: "CUSTOM", provider: { name: "sample-ext-authz-http" }, rules: [{ to: [{ operation: { paths: ["/headers"] } }] }] } }),
  });
  assert.equal(res.status, 201, await res.text());
  await until("the policy to apply", async () => (await fetch(`http://127.0.0.1:${local}/headers`).then((r) => r.status, () => 0)) === 403, 15_000);
});

after(async () => {
  for (const p of Object.values(proxies)) await p.stop();
  await cp?.stop();
  await httpbin?.close();
  await extAuthz?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a request the policy names is allowed or denied by the ext-authz service; others never reach it", async () => {
  checks.length = 0;
  const allowed = await fetch(`http://127.0.0.1:${local}/headers`, { headers: { "x-ext-authz": "allow" } });
  assert.equal(allowed.status, 200);
  const seen = (await allowed.json()) as { headers: Record<string, string> };
  assert.equal(seen.headers["x-ext-authz-check-result"], "allowed", "headersToUpstreamOnAllow reached httpbin");
  assert.deepEqual(checks.map((c) => [c.method, c.url, c.header]), [["GET", "/headers", "allow"]], "the check carried the method, path and the included header");

  const denied = await fetch(`http://127.0.0.1:${local}/headers`, { headers: { "x-ext-authz": "deny" } });
  assert.equal(denied.status, 403);
  assert.match(await denied.text(), /denied by ext_authz for not found header `x-ext-authz: allow`/);
  assert.equal(denied.headers.get("x-ext-authz-check-result"), "denied", "the service's headers reach the client on denial");

  checks.length = 0;
  assert.equal((await fetch(`http://127.0.0.1:${local}/ip`)).status, 200, "a path the policy does not name is not checked");
  assert.equal(checks.length, 0);
});

test("an unreachable ext-authz service denies (status_on_error 403, no failOpen)", async () => {
  await proxies["ext-authz"].stop();
  delete proxies["ext-authz"];
  await until("the ext-authz endpoint to go", async () => (await fetch(`http://127.0.0.1:${local}/headers`, { headers: { "x-ext-authz": "allow" } }).then((r) => r.status, () => 0)) === 403, 15_000);
  assert.equal((await fetch(`http://127.0.0.1:${local}/ip`)).status, 200, "unchecked paths still flow");
});

test("the mesh config refuses a provider it cannot honour, by field", () => {
  const bad = parseMeshConfig("extensionProviders:\n- name: x\n  envoyExtAuthzGrpc: {service: a, port: 9000}\n- name: y\n  envoyExtAuthzHttp: {service: a.b, port: 70000, includeRequestBodyInCheck: {}}\n");
  assert.equal(bad.ok, false);
  const errors = !bad.ok ? bad.errors.join("\n") : "";
  assert.match(errors, /extensionProviders\[0\] \(x\): only envoyExtAuthzHttp providers are supported, not envoyExtAuthzGrpc/);
  assert.match(errors, /extensionProviders\[1\]\.envoyExtAuthzHttp\.port must be a port/);
  assert.match(errors, /includeRequestBodyInCheck: sending the request body .* not supported/);
});
