// Access logs switched by Istio's MeshConfig: accessLogFile and accessLogEncoding reach every sidecar through xDS
// and each request leaves a line in Envoy's text format or as JSON; a bad mesh config is refused by field.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { parseMeshConfig } from "../../src/control/mesh-config.js";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { echo, get } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-access-log-"));
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

async function meshWithLog(name: string, encoding: "TEXT" | "JSON"): Promise<{ url: string; file: string }> {
  const file = join(dir, `${name}.log`);
  const mesh = parseMeshConfig(`accessLogFile: ${file}\naccessLogEncoding: ${encoding}\n`);
  assert.ok(mesh.ok);
  const cp = new ControlPlane({ stateDir: join(dir, name), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, mesh: mesh.value, log: () => {} });
  await cp.start();
  cleanup.unshift(() => cp.stop());
  const app = await echo("details-v1");
  cleanup.push(() => app.close());
  const [inbound, local] = [await freePort(), await freePort()];
  const meta = { NAMESPACE: "default", SERVICE_ACCOUNT: "bookinfo", INSTANCE_IP: "127.0.0.1" };
  for (const [id, m] of [
    ["details-v1", { SERVICE: "details", LABELS: { app: "details", version: "v1" }, INBOUND_PORT: inbound, APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] }],
    ["productpage-v1", { SERVICE: "productpage", LABELS: { app: "productpage", version: "v1" }, UPSTREAMS: [{ host: "details", port: 9080, localPort: local }] }],
  ] as const) {
    const p = await startProxy(sidecarBootstrap(cp.ports.xds, id, { ...meta, ...m }), { adminPort: 0, drainTimeoutMs: 100 });
    cleanup.unshift(() => p.stop());
  }
  const url = `http://127.0.0.1:${local}/details/0`;
  await until("the mesh to route", async () => (await get(url).catch(() => undefined))?.status === 200);
  return { url, file };
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}

test("accessLogEncoding JSON: both sidecars log each request as a JSON line", async () => {
  const { url, file } = await meshWithLog("json", "JSON");
  await get(url, { "user-agent": "trellis-test", "x-request-id": "log-me-1" });
  await until("both sides to log the request", async () => lines(file).filter((l) => l.includes("log-me-1")).length === 2);
  for (const l of lines(file).filter((x) => x.includes("log-me-1"))) {
    const entry = JSON.parse(l) as Record<string, unknown>;
    assert.equal(entry.method, "GET");
    assert.equal(entry.path, "/details/0");
    assert.equal(entry.response_code, 200);
    assert.equal(entry.user_agent, "trellis-test");
  }
  // The client side names the service's cluster, the server side the inbound one.
  const clusters = lines(file).filter((x) => x.includes("log-me-1")).map((l) => (JSON.parse(l) as { upstream_cluster: string }).upstream_cluster).sort();
  assert.deepEqual(clusters, ["inbound|9080||", "outbound|9080||details.default.svc.cluster.local"]);
});

test("accessLogEncoding TEXT: Envoy's default format", async () => {
  const { url, file } = await meshWithLog("text", "TEXT");
  await get(url, { "x-request-id": "log-me-2" });
  await until("both sides to log the request", async () => lines(file).filter((l) => l.includes("log-me-2")).length === 2);
  for (const l of lines(file).filter((x) => x.includes("log-me-2"))) assert.match(l, /^\[\S+\] "GET \/details\/0 HTTP\/1\.1" 200 - \d+ \d+ \d+ .* "log-me-2" /);
});

test("a mesh config with a mistake is refused by field, and trellis control exits 2 saying why", () => {
  const bad = parseMeshConfig("accessLogFile: logs/access.log\naccessLogEncoding: XML\noutboundTrafficPolicy: {mode: CLOSED}\nproxyListenPort: 15001\ndefaultConfig: {tracing: {sampling: 250}}\n");
  assert.equal(bad.ok, false);
  const errors = (bad as { errors: string[] }).errors.join("\n");
  assert.match(errors, /accessLogFile "logs\/access.log" must be \/dev\/stdout or an absolute path/);
  assert.match(errors, /accessLogEncoding must be TEXT or JSON, not "XML"/);
  assert.match(errors, /outboundTrafficPolicy must be \{mode: ALLOW_ANY\} or \{mode: REGISTRY_ONLY\}/);
  assert.match(errors, /proxyListenPort is not supported; Trellis reads accessLogFile/);
  assert.match(errors, /defaultConfig.tracing.sampling must be a percentage from 0 to 100/);
  // Istio's ConfigMap form is read too.
  const cm = parseMeshConfig("mesh: |\n  accessLogFile: /dev/stdout\n  enableTracing: false\n");
  assert.ok(cm.ok && cm.value.accessLogFile === "/dev/stdout" && cm.value.enableTracing === false);
  const file = join(dir, "mesh.yaml");
  writeFileSync(file, "accessLogEncoding: XML\n");
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "control", "--mesh-config", file, "--state-dir", join(dir, "cli")], { encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--mesh-config is not valid:\n\s+.*accessLogEncoding must be TEXT or JSON/);
});
