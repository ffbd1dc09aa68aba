// Istio's agent port (15020) as `trellis proxy --stats-port` serves it: the proxy's Istio metrics followed by the
// app's own (from --app-metrics), the proxy's alone when the app fails, and flags refused with the fix.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, test } from "node:test";
import { appMetricsFlag } from "../../src/cli/flags.js";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { backend, bootstrap, get, httpListener, staticCluster } from "../proxy/harness.js";
import { freePort } from "../control/mesh-harness.js";

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); });

test("/stats/prometheus on the stats port merges the proxy's metrics with the app's, and survives a failing app", async () => {
  let appFails = false;
  const app = await backend((req, res) => {
    if (req.url === "/metrics") {
      if (appFails) { res.writeHead(500); return res.end("boom"); }
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("# TYPE bookinfo_page_views_total counter\nbookinfo_page_views_total 42\n");
    }
    res.end("hello");
  });
  cleanup.push(() => app.close());
  const listenPort = await freePort();
  const b = bootstrap([httpListener("in", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "app" } }] }] }, undefined, { stat_prefix: "in" })], [staticCluster("app", [app.port])]);
  (b.static_resources!.listeners[0].address!.socket_address!).port_value = listenPort;
  b.node = { ...(b.node ?? {}), id: "reviews-v1", metadata: { fields: { NAMESPACE: { stringValue: "default", kind: "stringValue" }, WORKLOAD_NAME: { stringValue: "reviews-v1", kind: "stringValue" } } } } as never;
  const p = await startProxy(b, { adminPort: 0, statsPort: 0, appMetrics: { port: app.port, path: "/metrics" } });
  cleanup.unshift(() => p.stop());
  assert.equal((await get(`http://127.0.0.1:${listenPort}/`)).status, 200);
  const merged = await get(`http://127.0.0.1:${p.statsPort}/stats/prometheus`);
  assert.equal(merged.status, 200);
  assert.match(merged.text, /^bookinfo_page_views_total 42$/m, "the app's metric");
  assert.match(merged.text, /envoy_cluster_upstream_rq_total/, "the proxy's stats");
  assert.match(merged.text, /^trellis_agent_app_scrape_failures_total 0$/m);
  appFails = true;
  const degraded = await get(`http://127.0.0.1:${p.statsPort}/stats/prometheus`);
  assert.equal(degraded.status, 200, "a failing app never fails the scrape");
  assert.doesNotMatch(degraded.text, /bookinfo_page_views_total/);
  assert.match(degraded.text, /^trellis_agent_app_scrape_failures_total 1$/m);
  assert.equal((await get(`http://127.0.0.1:${p.statsPort}/healthz/ready`)).status, 200);
});

test("--app-metrics and --stats-port are checked, with the fix in the message", () => {
  assert.deepEqual(appMetricsFlag("--app-metrics", "9090/metrics"), { port: 9090, path: "/metrics" });
  assert.deepEqual(appMetricsFlag("--app-metrics", "/metrics", 20001), { port: 20001, path: "/metrics" });
  assert.throws(() => appMetricsFlag("--app-metrics", "/metrics"), /must be PORT\/PATH, e\.g\. 9090\/metrics/);
  assert.throws(() => appMetricsFlag("--app-metrics", "70000/metrics"), /must be PORT\/PATH/);
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "proxy", "--bootstrap", "x.yaml", "--app-metrics", "9090/metrics"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--app-metrics needs --stats-port/);
});
