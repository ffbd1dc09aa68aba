// Issue #25 item 7, replayed against a control plane, a real sidecar and its app: a DENY on /details/* must hold for
// /./details/0, //details/0, /%64etails/0 and /x/../details/0, and what reaches the app is the normalized path.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { backend, type Backend } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-path-tricks-"));
let cp: ControlPlane;
let app: Backend;
let sidecar: RunningProxy;
let inbound = 0;
const seen: string[] = [];

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  app = await backend((req, res) => { seen.push(req.url ?? ""); res.end("ok"); });
  inbound = await freePort();
  sidecar = await startProxy(sidecarBootstrap(cp.ports.xds, "details-v1", { NAMESPACE: "default", SERVICE: "details", LABELS: { app: "details", version: "v1" }, INSTANCE_IP: "127.0.0.1", INBOUND_PORT: inbound, APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] }), { adminPort: 0, drainTimeoutMs: 100 });
  await until("the sidecar to sync", async () => sidecar.ready(), 20_000);
  const deny = { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "deny-details" }, spec: { selector: { matchLabels: { app: "details" } }, action: "DENY", rules: [{ to: [{ operation: { paths: ["/details/*"] } }] }] } };
  const r = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/security.istio.io/v1/namespaces/default/authorizationpolicies`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(deny) });
  assert.equal(r.status, 201);
  await until("the DENY to hold", async () => (await get("/details/0")) === 403, 15_000);
});

after(async () => {
  await sidecar?.stop();
  await cp?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A request with the path exactly as written (fetch would normalize it first); the status, 0 if none. */
function get(path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port: inbound, path, headers: { host: "details", connection: "close" } }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode ?? 0)); });
    req.on("error", () => resolve(0));
    req.setTimeout(10_000, () => req.destroy());
    req.end();
  });
}

test("path tricks do not slip past a DENY on /details/*", async () => {
  for (const path of ["/./details/0", "//details/0", "/%64etails/0", "/x/../details/0", "/details/%2E/0", "/%2E/details/0"]) {
    assert.equal(await get(path), 403, path);
  }
});

test("allowed requests reach the app with the normalized path, query untouched", async () => {
  seen.length = 0;
  assert.equal(await get("//reviews/./a/../1?q=//x"), 200);
  assert.deepEqual(seen, ["/reviews/1?q=//x"]);
});
