// Issue #25 items 2 and 8, replayed against a running control plane, a real sidecar and its app: the writes that froze
// the mesh (a VirtualService without apiVersion, a metadata.name that is an object) and the malformed ones that gave
// 500s are refused with a 4xx naming the field; a stored resource whose translation throws is skipped and reported
// while a new DENY policy is still enforced and proxy-status shows every proxy configured.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import type { IstioResource } from "../../src/api/resource.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { backend, type Backend } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-poison-"));
let cp: ControlPlane;
let app: Backend;
let sidecar: RunningProxy;
let inbound = 0;
const logs: string[] = [];
const run = promisify(execFile);
const VS = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: (l) => logs.push(l) });
  await cp.start();
  app = await backend((_req, res) => res.end("reviews"));
  inbound = await freePort();
  sidecar = await startProxy(sidecarBootstrap(cp.ports.xds, "reviews-v1", { NAMESPACE: "default", SERVICE: "reviews", LABELS: { app: "reviews", version: "v1" }, INSTANCE_IP: "127.0.0.1", INBOUND_PORT: inbound, APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] }), { adminPort: 0, drainTimeoutMs: 100 });
  await until("the sidecar to sync", async () => sidecar.ready(), 20_000);
});

after(async () => {
  await sidecar?.stop();
  await cp?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

function api(method: string, path: string, body?: string, headers: Record<string, string> = { "content-type": "application/json" }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: cp.ports.api, method, path, headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
    req.end(body);
  });
}

const vs = (over: Record<string, unknown>) => JSON.stringify({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "reviews" }, spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] }, ...over });

test("the poison writes and malformed ones are refused with a 4xx that names the problem, and store nothing", async () => {
  const cases: Array<[string, string, string, number, RegExp]> = [
    ["no apiVersion", VS, JSON.stringify({ kind: "VirtualService", metadata: { name: "poison" }, spec: { hosts: ["x"] } }), 400, /apiVersion: missing; this path takes networking.istio.io\/v1/],
    ["apiVersion of another group", VS, vs({ apiVersion: "security.istio.io/v1" }), 400, /this path takes networking.istio.io\/v1/],
    ["metadata.name an object", VS, vs({ metadata: { name: { a: 1 } } }), 400, /metadata.name must be a string, got object/],
    ["name ..", VS, vs({ metadata: { name: ".." } }), 400, /metadata.name "\.\." is not a valid name/],
    ["name of 300 characters", VS, vs({ metadata: { name: "a".repeat(300) } }), 400, /is not a valid name/],
    ["deeply nested JSON", VS, "[".repeat(100_000) + "]".repeat(100_000), 400, /deeper than 64 levels/],
    ["a bad percent-escape", `${VS}/%E0%A4%A`, "", 400, /bad percent-escape/],
    ["a name of .", VS, vs({ metadata: { name: "." } }), 400, /metadata.name "\." is not a valid name/],
  ];
  for (const [name, path, body, code, message] of cases) {
    const r = await api(name.startsWith("a bad") ? "GET" : "POST", path, body || undefined);
    assert.equal(r.status, code, `${name}: ${r.body}`);
    assert.match((JSON.parse(r.body) as { message: string }).message, message, name);
    assert.doesNotMatch(r.body, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), `${name}: no state path in the answer`);
  }
  assert.equal(cp.store.list("VirtualService").length, 0);
});

test("a body over 4 MiB is answered 413 with the limit", async () => {
  const r = await api("POST", VS, "x".repeat(5 * 1024 * 1024));
  assert.equal(r.status, 413);
  assert.match(r.body, /larger than 4194304 bytes/);
});

test("a stored resource that cannot be translated is skipped and reported; a new DENY is still enforced and proxy-status tells the truth", async () => {
  // A listener replaced by new config closes idle keep-alive connections: such an attempt counts as no answer.
  const call = () => fetch(`http://127.0.0.1:${inbound}/`, { headers: { host: "reviews", connection: "close" } }).then((r) => r, () => ({ status: 0 }));
  assert.equal((await call()).status, 200, "served before");
  // As an older version (or a hand-edited state dir) would have stored it: no spec, so translation throws.
  cp.store.put({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "poison", namespace: "default" } } as unknown as IstioResource);
  const deny = { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "deny-all" }, spec: { selector: { matchLabels: { app: "reviews" } }, action: "DENY", rules: [{}] } };
  const put = await api("POST", "/apis/security.istio.io/v1/namespaces/default/authorizationpolicies", JSON.stringify(deny));
  assert.equal(put.status, 201, put.body);
  await until("the DENY to be enforced", async () => (await call()).status === 403, 15_000);
  const errors = JSON.parse((await api("GET", "/debug/config-errors")).body) as { skippedResources: Array<{ name: string; error: string }>; proxies: unknown[] };
  assert.deepEqual(errors.skippedResources.map((r) => r.name), ["poison"]);
  assert.deepEqual(errors.proxies, []);
  assert.ok(logs.some((l) => /skipping VirtualService default\/poison: it cannot be translated/.test(l)), logs.join("\n"));
  // Asynchronously: the control plane answering it runs in this process.
  const status = await run(process.execPath, ["dist/src/cli/main.js", "proxy-status", "--control", `127.0.0.1:${cp.ports.api}`]);
  assert.match(status.stdout, /reviews-v1\s+SYNCED/);
  // Deleting the poison clears the report.
  assert.equal((await api("DELETE", `${VS}/poison`)).status, 200);
  await until("the report to clear", async () => (JSON.parse((await api("GET", "/debug/config-errors")).body) as { skippedResources: unknown[] }).skippedResources.length === 0, 10_000);
});
