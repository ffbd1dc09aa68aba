// Compatibility with a real Prometheus (Debian's package): it scrapes a live three-sidecar mesh with the config
// `trellis prometheus-config` prints, and the mesh graph built from Kiali's queries has the same edges whether it
// is answered by Prometheus or by the embedded store; the control plane's --prometheus-url path answers too.
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { ControlPlane } from "../../src/app/control-plane.js";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { buildGraph } from "../../src/telemetry/metrics/mesh-graph.js";
import { EmbeddedBackend, PrometheusBackend } from "../../src/telemetry/metrics/query-backend.js";
import { echo, get } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const execFileP = promisify(execFile);
const PROMETHEUS = "/usr/bin/prometheus";
const skip = existsSync(PROMETHEUS) ? false : `Prometheus is not installed (${PROMETHEUS}); scripts/install-system-deps.sh installs Debian's package when run as root`;
const dir = mkdtempSync(join(tmpdir(), "trellis-prom-"));
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

test("Kiali's graph query answers the same edges from a real Prometheus and from the embedded store", { skip }, async () => {
  const cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, scrapeIntervalMs: 1000, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  cleanup.unshift(() => cp.stop());
  const [v1, v2] = [await echo("reviews-v1"), await echo("reviews-v2")];
  cleanup.push(() => v1.close(), () => v2.close());
  const [in1, in2, local] = [await freePort(), await freePort(), await freePort()];
  const meta = { NAMESPACE: "default", SERVICE_ACCOUNT: "bookinfo", INSTANCE_IP: "127.0.0.1" };
  const ports = { SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] };
  for (const [id, m] of [
    ["reviews-v1", { SERVICE: "reviews", LABELS: { app: "reviews", version: "v1" }, INBOUND_PORT: in1, APP_PORT: v1.port, ...ports }],
    ["reviews-v2", { SERVICE: "reviews", LABELS: { app: "reviews", version: "v2" }, INBOUND_PORT: in2, APP_PORT: v2.port, ...ports }],
    ["productpage-v1", { SERVICE: "productpage", LABELS: { app: "productpage", version: "v1" }, UPSTREAMS: [{ host: "reviews", port: 9080, localPort: local }] }],
  ] as const) {
    const admin = await freePort();
    const p = await startProxy(sidecarBootstrap(cp.ports.xds, id, { ...meta, ...m, ADMIN_ADDRESS: `127.0.0.1:${admin}` }), { adminPort: admin, drainTimeoutMs: 100 });
    cleanup.unshift(() => p.stop());
  }
  const url = `http://127.0.0.1:${local}/reviews/0`;
  await until("the mesh to route", async () => (await get(url).catch(() => undefined))?.status === 200);

  // Asynchronously: the control plane answering the CLI runs in this process.
  const config = await execFileP(process.execPath, ["dist/src/cli/main.js", "prometheus-config", "--control", `127.0.0.1:${cp.ports.api}`, "--interval", "1s"], { encoding: "utf8", timeout: 30_000 });
  assert.equal((config.stdout.match(/- targets:/g) ?? []).length, 3, config.stdout);
  writeFileSync(join(dir, "prometheus.yml"), config.stdout);
  const promPort = await freePort();
  const prom: ChildProcess = spawn(PROMETHEUS, [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--storage.tsdb.retention.time=1h"], { stdio: "ignore" });
  cleanup.unshift(() => new Promise<void>((r) => { if (prom.exitCode !== null) return r(); prom.once("exit", () => r()); prom.kill("SIGTERM"); }));
  const promUrl = `http://127.0.0.1:${promPort}`;
  await until("Prometheus to be ready", async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true, 30_000);

  const embedded = new EmbeddedBackend(cp.metrics);
  const prometheus = new PrometheusBackend(promUrl);
  const edges = async (b: EmbeddedBackend | PrometheusBackend) => (await buildGraph(b, { windowMs: 60_000, window: "60s", graphType: "versionedApp", namespaces: ["default"], now: Date.now() })).edges.filter((e) => e.rps > 0).map((e) => e.id).sort();
  const want = ["default/app/productpage/v1->default/service/reviews", "default/service/reviews->default/app/reviews/v1", "default/service/reviews->default/app/reviews/v2"];
  let fromProm: string[] = [];
  let fromEmbedded: string[] = [];
  await until("both stores to see the traffic", async () => {
    for (let i = 0; i < 10; i++) await get(url);
    [fromProm, fromEmbedded] = await Promise.all([edges(prometheus), edges(embedded)]);
    return want.every((w) => fromProm.includes(w) && fromEmbedded.includes(w));
  }, 40_000);
  assert.deepEqual(fromProm, fromEmbedded);
  // The same query, as Kiali sends it, answers the same series from both (once each store holds two samples of
  // every series, which rate() needs).
  const q = 'sum(rate(istio_requests_total{reporter="destination"}[1m])) by (destination_workload,response_code) > 0';
  const key = (s: { labels: Record<string, string> }) => `${s.labels.destination_workload}/${s.labels.response_code}`;
  let series: string[][] = [];
  await until("both stores to answer Kiali's query", async () => {
    for (let i = 0; i < 4; i++) await get(url);
    series = (await Promise.all([prometheus.instant(q, Date.now()), embedded.instant(q, Date.now())])).map((r) => r.map(key).sort());
    return series[0].length === 2 && series[1].length === 2;
  }, 30_000);
  assert.deepEqual(series[0], series[1]);
  assert.deepEqual(series[0], ["reviews-v1/200", "reviews-v2/200"]);
  // The control plane answers the console's graph from Prometheus when told to.
  const viaProm = new ControlPlane({ stateDir: join(dir, "state2"), xdsPort: 0, apiPort: 0, otlpPort: 0, prometheusUrl: promUrl, log: () => {} });
  await viaProm.start();
  cleanup.unshift(() => viaProm.stop());
  const graph = (await (await fetch(`http://127.0.0.1:${viaProm.ports.api}/api/v1/telemetry/graph?window=1m&namespaces=default`)).json()) as { edges: Array<{ id: string }> };
  for (const w of want) assert.ok(graph.edges.some((e) => e.id === w), `${w} via --prometheus-url`);
});
