// A mesh under the user's own root (Istio's plug-in CA): the control plane signs as the intermediate from
// --ca-plugin-dir, workloads read the trust bundle from the state dir as usual, their certificates lead to the
// user's root through the intermediate, and sidecars talk mutual TLS (xDS over TLS too) with them.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { scopeFor } from "../fixtures/token-scope.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { backend, type Backend } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";
import { writePluginCa } from "../fixtures/plugin-ca.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-plugin-ca-"));
let cp: ControlPlane;
let app: Backend;
let userRoot: string;
const proxies: RunningProxy[] = [];
const admins: number[] = [];
let local = 0;

before(async () => {
  const cacerts = join(dir, "cacerts");
  mkdirSync(cacerts);
  userRoot = (await writePluginCa(cacerts)).rootPem;
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, caPluginDir: cacerts, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  const tokens = TokenIssuer.open(join(dir, "state", "ca", "token-key"), "cluster.local");
  const rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
  const ca = (sa: string) => ({ address: `127.0.0.1:${cp.ports.ca}`, rootsPem, token: () => tokens.issue("default", sa, 600, Date.now(), scopeFor(sa, { version: "v1" })) });
  app = await backend((_req, res) => res.end("reviews"));
  const meta = { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1", MTLS_READY: true };
  for (let i = 0; i < 2; i++) admins.push(await freePort());
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "reviews-v1", { ...meta, SERVICE: "reviews", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v1" }, INBOUND_PORT: await freePort(), APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }], ADMIN_ADDRESS: `127.0.0.1:${admins[0]}` }), { adminPort: admins[0], drainTimeoutMs: 100, ca: ca("reviews") }));
  local = await freePort();
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "productpage-v1", { ...meta, SERVICE_ACCOUNT: "productpage", LABELS: { app: "productpage", version: "v1" }, UPSTREAMS: [{ host: "reviews", port: 9080, localPort: local }], ADMIN_ADDRESS: `127.0.0.1:${admins[1]}` }), { adminPort: admins[1], drainTimeoutMs: 100, ca: ca("productpage") }));
  await until("the mesh to serve over mTLS", async () => (await fetch(`http://127.0.0.1:${local}/`).then((r) => r.status, () => 0)) === 200, 15_000);
});

after(async () => {
  for (const p of proxies) await p.stop();
  await cp?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("workload certificates come from the intermediate and lead to the user's root; mTLS works with them", async () => {
  const rootFp = new X509Certificate(userRoot).fingerprint256;
  assert.equal(new X509Certificate(readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8")).fingerprint256, rootFp, "the state dir's bundle is the user's root");
  for (const admin of admins) {
    const certs = (await (await fetch(`http://127.0.0.1:${admin}/certs`)).json()) as { certificates: Array<{ name: string; issuer_root_sha256?: string; sha256_fingerprint: string; ca: boolean }> };
    assert.equal(certs.certificates.find((c) => c.name === "default")?.issuer_root_sha256, rootFp);
    assert.deepEqual(certs.certificates.filter((c) => c.name === "ROOTCA").map((c) => c.sha256_fingerprint), [rootFp]);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${admins[0]}/stats/prometheus`)).text();
  assert.match(metrics, /istio_requests_total\{[^}]*reporter="destination"[^}]*connection_security_policy="mutual_tls"/);
  const status = (await (await fetch(`http://127.0.0.1:${cp.ports.api}/api/v1/ca`)).json()) as { mode: string; roots: Array<{ sha256: string }> };
  assert.equal(status.mode, "plug-in");
  // A plug-in CA's root is rotated by replacing its files: Trellis refuses to do it.
  const rotate = await fetch(`http://127.0.0.1:${cp.ports.api}/api/v1/ca/root-rotation`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "start" }) });
  assert.equal(rotate.status, 409);
  assert.match(((await rotate.json()) as { message: string }).message, /plug-in CA's root is rotated by replacing its files/);
});
