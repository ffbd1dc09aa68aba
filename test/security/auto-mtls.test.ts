// Auto mTLS per endpoint, as Istio decides it: a service with a sidecar endpoint and a WorkloadEntry endpoint (a VM
// with no proxy) is reached with mutual TLS on the first and plaintext on the second, through one cluster whose
// transport_socket_matches pick by the endpoint's tlsMode. Before, one plaintext endpoint turned TLS off for all.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { scopeFor } from "../fixtures/token-scope.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { backend, type Backend } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-auto-mtls-"));
let cp: ControlPlane;
const apps: Backend[] = [];
const proxies: RunningProxy[] = [];
let local = 0;
let serverAdmin = 0;
let clientAdmin = 0;

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  const tokens = TokenIssuer.open(join(dir, "state", "ca", "token-key"), "cluster.local");
  const rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
  const ca = (sa: string) => ({ address: `127.0.0.1:${cp.ports.ca}`, rootsPem, token: () => tokens.issue("default", sa, 600, Date.now(), scopeFor(sa, { version: "v1" })) });
  // v2 is a plain HTTP server: a TLS handshake sent to it would come back as an error, never as "v2".
  for (const version of ["v1", "v2"]) apps.push(await backend((_req, res) => res.end(version)));
  const meta = { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1", MTLS_READY: true };
  serverAdmin = await freePort();
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "reviews-v1", { ...meta, SERVICE: "reviews", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v1" }, INBOUND_PORT: await freePort(), APP_PORT: apps[0].port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }], ADMIN_ADDRESS: `127.0.0.1:${serverAdmin}` }), { adminPort: serverAdmin, drainTimeoutMs: 100, ca: ca("reviews") }));
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/default/workloadentries`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry", metadata: { name: "reviews-vm", namespace: "default" }, spec: { address: "127.0.0.1", ports: { http: apps[1].port }, labels: { app: "reviews", version: "v2" }, serviceAccount: "reviews" } }),
  });
  assert.equal(res.status, 201, await res.text());
  local = await freePort();
  clientAdmin = await freePort();
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "productpage-v1", { ...meta, SERVICE_ACCOUNT: "productpage", LABELS: { app: "productpage", version: "v1" }, UPSTREAMS: [{ host: "reviews", port: 9080, localPort: local }], ADMIN_ADDRESS: `127.0.0.1:${clientAdmin}` }), { adminPort: clientAdmin, drainTimeoutMs: 100, ca: ca("productpage") }));
  await until("the mesh to serve reviews", async () => (await fetch(`http://127.0.0.1:${local}/`).then((r) => r.status, () => 0)) === 200, 15_000);
});

after(async () => {
  for (const p of proxies) await p.stop();
  await cp?.stop();
  for (const a of apps) await a.close();
  rmSync(dir, { recursive: true, force: true });
});

test("mutual TLS to the sidecar endpoint and plaintext to the WorkloadEntry, in one service", async () => {
  const answers = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`http://127.0.0.1:${local}/`);
    const body = await r.text();
    assert.equal(r.status, 200, body);
    answers.set(body, (answers.get(body) ?? 0) + 1);
  }
  assert.deepEqual([...answers.keys()].sort(), ["v1", "v2"], `both endpoints answer: ${JSON.stringify([...answers])}`);
  // The sidecar endpoint saw its caller's certificate.
  const metrics = await (await fetch(`http://127.0.0.1:${serverAdmin}/stats/prometheus`)).text();
  assert.match(metrics, /istio_requests_total\{[^}]*reporter="destination"[^}]*source_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/productpage"[^}]*connection_security_policy="mutual_tls"/);
  // What the client was sent: one cluster, TLS chosen per endpoint by its tlsMode.
  const dump = (await (await fetch(`http://127.0.0.1:${clientAdmin}/config_dump`)).json()) as { configs: Array<{ dynamic_active_clusters?: Array<{ cluster: { name: string; transport_socket_matches?: Array<{ name: string }> } }> }> };
  const cluster = dump.configs.flatMap((c) => c.dynamic_active_clusters ?? []).find((c) => c.cluster.name === "outbound|9080||reviews.default.svc.cluster.local");
  assert.deepEqual(cluster?.cluster.transport_socket_matches?.map((m) => m.name), ["tlsMode-istio", "tlsMode-disabled"]);
});
