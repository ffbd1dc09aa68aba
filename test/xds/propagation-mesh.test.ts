// Propagation you can see, end to end: five real sidecars speaking every xDS flavour (SotW and Delta ADS, per-type
// LDS/CDS streams in SotW and Delta) plus two raw ADS clients, one that never answers and one that NACKs everything.
// `trellis apply --wait` returns once the proxies a change affects hold it (so traffic already follows it), names
// the NACKing and the silent clients without waiting on them beyond its timeout; proxy-status, the propagation API
// and the Prometheus metrics on the monitoring port report the same, and the console's Mesh page shows the changes
// (in Chromium; a screenshot goes to test-artifacts/xds/).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { chromium } from "playwright-core";
import { ControlPlane } from "../../src/control/control-plane.js";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { type DiscoveryRequest, type DiscoveryResponse, jsonToStruct } from "../../src/xds/ads-service.js";
import { TYPE_URL } from "../../src/xds/resource.js";
import { echo, get } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until, type XdsMode } from "../control/mesh-harness.js";
import { XdsStream } from "../fixtures/xds-stream.js";
import { CHROMIUM, chromiumMissing } from "../fixtures/console-demo.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-propagation-"));
const cleanup: Array<() => Promise<void> | void> = [];
let cp: ControlPlane;
let api = "";
/** productpage sidecar -> the local port its app reaches reviews on. */
const frontends = new Map<string, number>();
const raw: Array<XdsStream<DiscoveryRequest, DiscoveryResponse>> = [];

/** Runs the CLI as a process (asynchronously: the control plane answering it runs in this one). */
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["dist/src/cli/main.js", ...args, "--control", api], { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
    });
  });
}

async function served(id: string): Promise<string | undefined> {
  const r = await get(`http://127.0.0.1:${frontends.get(id)}/reviews/0`).catch(() => undefined);
  return r?.status === 200 ? String(r.json().name) : undefined;
}

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, consolePort: 0, log: () => {} });
  await cp.start();
  cleanup.push(() => cp.stop());
  api = `127.0.0.1:${cp.ports.api}`;
  const sidecar = async (id: string, meta: Record<string, unknown>, mode: XdsMode) => {
    const p = await startProxy(sidecarBootstrap(cp.ports.xds, id, { NAMESPACE: "default", SERVICE_ACCOUNT: "bookinfo", INSTANCE_IP: "127.0.0.1", ...meta }, mode), { adminPort: 0, drainTimeoutMs: 100 });
    cleanup.unshift(() => p.stop());
  };
  for (const [version, mode] of [["v1", { apiType: "DELTA_GRPC" }], ["v2", { apiType: "GRPC", perType: true }]] as const) {
    const app = await echo(`reviews-${version}`);
    cleanup.push(() => app.close());
    await sidecar(`reviews-${version}`, { SERVICE: "reviews", LABELS: { app: "reviews", version }, INBOUND_PORT: await freePort(), APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] }, mode);
  }
  const modes: Array<[string, XdsMode]> = [["productpage-sotw", { apiType: "GRPC" }], ["productpage-delta", { apiType: "DELTA_GRPC" }], ["productpage-pertype", { apiType: "DELTA_GRPC", perType: true }]];
  for (const [id, mode] of modes) {
    const local = await freePort();
    frontends.set(id, local);
    await sidecar(id, { SERVICE: "productpage", LABELS: { app: "productpage", version: id }, UPSTREAMS: [{ host: "reviews", port: 9080, localPort: local }] }, mode);
  }
  for (const id of frontends.keys()) {
    await until(`${id} to reach both reviews versions`, async () => { const s = new Set([await served(id), await served(id), await served(id), await served(id)]); return s.has("reviews-v1") && s.has("reviews-v2"); }, 30_000);
  }
});

after(async () => {
  for (const r of raw) r.close();
  for (const c of cleanup) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw ADS client for a productpage-like node: asks for CDS and LDS, then answers each response with `reply`. */
function rawClient(id: string, reply?: (res: DiscoveryResponse) => Partial<DiscoveryRequest>): void {
  const s = new XdsStream<DiscoveryRequest, DiscoveryResponse>(`127.0.0.1:${cp.ports.xds}`, "sotw");
  raw.push(s);
  if (reply) s.answerWith(reply);
  const meta = { NAMESPACE: "default", UPSTREAMS: [{ host: "reviews", port: 9080, localPort: 1 }] };
  s.send({ version_info: "", node: { id, cluster: "raw", metadata: jsonToStruct(meta), user_agent_name: "raw", locality: null }, resource_names: [], type_url: TYPE_URL.cluster, response_nonce: "", error_detail: null });
  s.send({ version_info: "", node: null, resource_names: [], type_url: TYPE_URL.listener, response_nonce: "", error_detail: null });
}

function routeAllTo(subset: string): string {
  const file = join(dir, `reviews-${subset}.yaml`);
  writeFileSync(file, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: ${subset}}
`);
  return file;
}

test("apply --wait names a NACKing and a silent proxy, and the others already serve the change when it returns", async () => {
  rawClient("stuck-1");
  rawClient("nacker-1", (res) => ({ version_info: "", resource_names: [], type_url: res.type_url, response_nonce: res.nonce, error_detail: { code: grpc.status.INVALID_ARGUMENT, message: "nacker refuses everything" } }));
  await until("the raw clients to connect", async () => ["stuck-1", "nacker-1"].every((id) => cp.ads.proxies().some((p) => p.node.id === id)));
  const r = await cli("apply", "-f", routeAllTo("v1"), "--wait", "--timeout", "4s");
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /virtualservice.networking.istio.io\/reviews created/);
  assert.match(r.stderr, /virtualservice.networking.istio.io\/reviews \(generation \d+\): held by 3\/5 proxies in \d+ ms \(p50 \d+ ms, p99 \d+ ms\) after 4s/);
  assert.match(r.stderr, /NACKED by nacker-1: nacker refuses everything/);
  assert.match(r.stderr, /no answer from 1 proxy: stuck-1/);
  // The proxies that hold it route by it already: no polling.
  for (const id of frontends.keys()) assert.equal(await served(id), "reviews-v1", id);
  for (const c of raw.splice(0)) c.close();
  await until("the raw clients to go", async () => cp.ads.proxies().length === 5);
});

test("apply --wait returns when every affected proxy holds the change; proxy-status, the API and /metrics report it", async () => {
  const r = await cli("apply", "-f", routeAllTo("v2"), "--wait", "--timeout", "30s");
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /virtualservice.networking.istio.io\/reviews \(generation \d+\) reached 3\/3 proxies in \d+ ms/);
  assert.match(r.stdout, /destinationrule.networking.istio.io\/reviews \(generation \d+\): no connected proxy is affected/);
  for (const id of frontends.keys()) assert.equal(await served(id), "reviews-v2", id);

  const status = await cli("proxy-status");
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^\d+\s+VirtualService default\/reviews\s+DONE\s+3\/3\s+\d+ms\s+\d+ms\s+\d+ms$/m);
  assert.match(status.stdout, /^\d+\s+VirtualService default\/reviews\s+FAILED\s+3\/5/m, "the earlier change names what it could not reach");

  const proxies = await (await fetch(`http://${api}/debug/proxies`)).json() as Array<{ node: { id: string }; protocol: string; types: Array<{ state: string }> }>;
  assert.deepEqual(Object.fromEntries(proxies.map((p) => [p.node.id, p.protocol])), { "reviews-v1": "Delta", "reviews-v2": "SotW", "productpage-sotw": "SotW", "productpage-delta": "Delta", "productpage-pertype": "Delta" });
  const pertype = proxies.find((p) => p.node.id === "productpage-pertype")!;
  assert.equal(pertype.types.filter((t) => t.state === "SYNCED").length, 4, "its four per-type streams show as one proxy");

  const changes = await (await fetch(`http://${api}/api/v1/propagation?limit=4`)).json() as { changes: Array<{ kind: string; state: string; nacked: unknown[]; disconnected: string[] }> };
  const failed = changes.changes.find((c) => c.kind === "VirtualService" && c.state === "FAILED")!;
  assert.deepEqual([failed.nacked.length, failed.disconnected], [1, ["stuck-1"]], "the NACK stays named after the nacker left; the silent one disconnected");
  const bad = await fetch(`http://${api}/api/v1/propagation/abc`);
  assert.equal(bad.status, 400);

  const metrics = await (await fetch(`http://${api}/metrics`)).text();
  // Streams, as Istio counts connections: three ADS, reviews-v2's per-type CDS and LDS, productpage-pertype's four.
  assert.match(metrics, /^pilot_xds\{version="trellis"\} 9$/m);
  assert.match(metrics, /^pilot_xds_pushes\{type="rds"\} [1-9]\d*$/m);
  assert.match(metrics, /^pilot_total_xds_rejects\{type="cds"\} [1-9]\d*$/m);
  assert.match(metrics, /^# TYPE pilot_proxy_convergence_time histogram$/m);
  const count = Number(/^pilot_proxy_convergence_time_count (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(count >= 6, `one observation per proxy and push at least: ${count}`);
});

test("the console's Mesh page lists the changes with their propagation", { skip: chromiumMissing }, async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  cleanup.unshift(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 950 } });
  await page.goto(`http://127.0.0.1:${cp.ports.console}/#/mesh`);
  const table = page.getByRole("table", { name: "Changes" });
  await table.locator("tbody tr").first().waitFor({ timeout: 30_000 });
  const rows = await table.locator("tbody tr").allInnerTexts();
  assert.ok(rows.some((r) => /modified VirtualService default\/reviews\s.*\sDONE\s+3 of 3\s+\d+ ms/.test(r)), rows.join("\n"));
  assert.ok(rows.some((r) => /FAILED\s+3 of 5.*NACKED by nacker-1: nacker refuses everything; stuck-1 disconnected before it ACKed/.test(r)), rows.join("\n"));
  mkdirSync("test-artifacts/xds", { recursive: true });
  await page.screenshot({ path: "test-artifacts/xds/mesh-propagation.png", fullPage: true });
});
