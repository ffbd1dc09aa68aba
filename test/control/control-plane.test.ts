// trellis control end to end: the CLI against a real control-plane process (apply, get, delete, rejections,
// restart), and a two-sidecar mesh configured through it where a VirtualService moves real traffic.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { echo, get } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "./mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-control-"));
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

function startControl(stateDir: string): Promise<{ child: ChildProcess; api: string; xds: number }> {
  const child = spawn(process.execPath, ["dist/src/cli/main.js", "control", "--state-dir", stateDir, "--xds-port", "0", "--api-port", "0", "--otlp-port", "0", "--console-port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const api = /api listening on (\S+)/.exec(out);
      const xds = /xds listening on \S+:(\d+)/.exec(out);
      if (api && xds) resolve({ child, api: api[1], xds: Number(xds[1]) });
    });
    child.once("exit", (code) => reject(new Error(`trellis control exited with ${code}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((r) => { if (child.exitCode !== null) return r(); child.once("exit", () => r()); child.kill("SIGTERM"); });
}

const cli = (api: string, ...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", ...args, "--control", api], { encoding: "utf8" });

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
`;

test("apply, get, delete through the REST API; invalid, conflicting and unknown writes are refused; config survives a restart", async () => {
  const stateDir = join(dir, "state");
  let cp = await startControl(stateDir);
  cleanup.push(() => stop(cp.child));
  const file = join(dir, "vs.yaml");
  writeFileSync(file, VS);
  const applied = cli(cp.api, "apply", "-f", file);
  assert.equal(applied.status, 0, applied.stderr);
  assert.match(applied.stdout, /virtualservice.networking.istio.io\/reviews created/);
  assert.match(applied.stderr, /Warning \[TRL1002\].*subset "v1"/, "cross-resource problems come back as warnings");
  assert.match(cli(cp.api, "apply", "-f", file).stdout, /configured/);
  const got = cli(cp.api, "get", "vs", "reviews", "-o", "json");
  assert.equal(JSON.parse(got.stdout).spec.hosts[0], "reviews");
  assert.match(cli(cp.api, "get", "virtualservices").stdout, /reviews/);

  // Invalid: 400 with the analyzer's finding, and nothing changes.
  writeFileSync(join(dir, "bad.yaml"), VS.replace("hosts: [reviews]", "hosts: [reviews]\n  htpp: []"));
  const bad = cli(cp.api, "apply", "-f", join(dir, "bad.yaml"));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /unknown field "htpp"/);

  // Conflict: a replace with a stale resourceVersion is 409.
  const base = `http://${cp.api}/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews`;
  const current = await (await fetch(base)).json() as { metadata: { resourceVersion: string } };
  const stale = { ...current, metadata: { ...current.metadata, resourceVersion: "1" } };
  const conflict = await fetch(base, { method: "PUT", body: JSON.stringify(stale), headers: { "content-type": "application/json" } });
  assert.equal(conflict.status, 409);
  const unknown = await fetch(`http://${cp.api}/apis/networking.istio.io/v1/namespaces/default/envoyfilters`);
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { message: string }).message, /does not serve envoyfilters/);

  // Restart: the resource is still there.
  await stop(cp.child);
  cp = await startControl(stateDir);
  assert.match(cli(cp.api, "get", "vs").stdout, /reviews/);
  const deleted = cli(cp.api, "delete", "vs", "reviews");
  assert.equal(deleted.status, 0, deleted.stderr);
  assert.match(cli(cp.api, "get", "vs").stdout, /No resources found/);
  assert.equal(cli(cp.api, "delete", "vs", "reviews").status, 1);
});

test("a mesh of three sidecars: productpage -> reviews v1/v2 through two proxies, routed by a VirtualService", async () => {
  const cp = new ControlPlane({ stateDir: join(dir, "mesh"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
  cleanup.unshift(() => cp.stop());
  const v1 = await echo("reviews-v1");
  const v2 = await echo("reviews-v2");
  cleanup.push(() => v1.close(), () => v2.close());
  const [in1, in2, local] = [await freePort(), await freePort(), await freePort()];
  const proxies: RunningProxy[] = [];
  const sidecar = async (id: string, meta: Record<string, unknown>) => {
    const p = await startProxy(sidecarBootstrap(cp.ports.xds, id, { NAMESPACE: "default", SERVICE_ACCOUNT: "bookinfo", INSTANCE_IP: "127.0.0.1", ...meta }), { adminPort: 0, drainTimeoutMs: 100 });
    proxies.push(p);
    cleanup.unshift(() => p.stop());
  };
  await sidecar("reviews-v1", { SERVICE: "reviews", LABELS: { app: "reviews", version: "v1" }, INBOUND_PORT: in1, APP_PORT: v1.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] });
  await sidecar("reviews-v2", { SERVICE: "reviews", LABELS: { app: "reviews", version: "v2" }, INBOUND_PORT: in2, APP_PORT: v2.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] });
  await sidecar("productpage-v1", { SERVICE: "productpage", LABELS: { app: "productpage", version: "v1" }, UPSTREAMS: [{ host: "reviews", port: 9080, localPort: local }] });
  const url = `http://127.0.0.1:${local}/reviews/0`;
  const names = async (n: number) => { const out = new Set<string>(); for (let i = 0; i < n; i++) { const r = await get(url).catch(() => undefined); if (r?.status === 200) out.add(String(r.json().name)); } return out; };
  // No VirtualService: round robin over both versions.
  await until("both versions to answer", async () => (await names(10)).size === 2);
  const dr = { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "reviews", namespace: "default" }, spec: { host: "reviews", subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] } };
  const vs = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "reviews", namespace: "default" }, spec: { hosts: ["reviews"], http: [{ match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }, { route: [{ destination: { host: "reviews", subset: "v1" } }] }] } };
  cp.store.put(dr as never);
  cp.store.put(vs as never);
  await until("everyone on v1", async () => { const s = await names(6); return s.size === 1 && s.has("reviews-v1"); });
  assert.equal((await get(url, { "end-user": "jason" })).json().name, "reviews-v2");
  const headers = (await get(url)).json().headers as Record<string, string>;
  assert.ok(headers["x-request-id"], "the request crossed the proxies with a request id");
  const status = cp.ads.proxies();
  assert.equal(status.length, 3);
  // Both sides of the hop report Istio's standard metrics with the peer's labels (metadata exchange).
  const metrics = async (p: RunningProxy) => (await get(`http://127.0.0.1:${p.adminPort}/stats/prometheus`)).text;
  const source = await metrics(proxies[2]);
  assert.match(source, /istio_requests_total\{reporter="source",source_workload="productpage-v1",source_workload_namespace="default",[^}]*source_app="productpage",[^}]*destination_workload="reviews-v2",[^}]*destination_app="reviews",destination_version="v2",destination_service="reviews.default.svc.cluster.local",destination_service_name="reviews",destination_service_namespace="default",[^}]*request_protocol="http",response_code="200",[^}]*\} [1-9]/);
  assert.match(source, /istio_request_duration_milliseconds_bucket\{reporter="source",[^}]*le="0.5"\} \d+/);
  const destination = await metrics(proxies[0]);
  assert.match(destination, /istio_requests_total\{reporter="destination",source_workload="productpage-v1",[^}]*source_app="productpage",[^}]*destination_workload="reviews-v1",[^}]*destination_service="reviews.default.svc.cluster.local",[^}]*connection_security_policy="none"\} [1-9]/);
  // Every type a proxy subscribed to is in sync; the reviews sidecars need no EDS or RDS, so those stay NOT SENT.
  assert.ok(status.every((p) => p.types.every((t) => t.state === "SYNCED" || t.state === "NOT SENT")), JSON.stringify(status.map((p) => p.types)));
  assert.equal(status.find((p) => p.node.id === "productpage-v1")!.types.filter((t) => t.state === "SYNCED").length, 4);
});
