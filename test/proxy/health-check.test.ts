// Active health checks on a cluster, as Envoy runs them: HTTP probes whose status must be expected, TCP connects,
// thresholds both ways, failed hosts out of the rotation and back when they recover; bad config refused by field.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { backend, bootstrap, get, httpListener, proxy, staticCluster, type Backend } from "./harness.js";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { until } from "../control/mesh-harness.js";

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); });

function healthy(name: string, state: { ok: boolean }): Promise<Backend> {
  return backend((req, res) => {
    if (req.url === "/healthz") { res.writeHead(state.ok ? 200 : 503); return void res.end(); }
    res.end(name);
  });
}

const route = { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "app" } }] }] };

async function spread(url: string, n = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await get(url)).text);
  return seen;
}

test("HTTP health checks take a failing host out of rotation and bring it back after healthy_threshold passes", async () => {
  const a = { ok: true };
  const b = { ok: true };
  const [ba, bb] = [await healthy("a", a), await healthy("b", b)];
  cleanup.push(() => ba.close(), () => bb.close());
  const p = await proxy([httpListener("in", route)], [staticCluster("app", [ba.port, bb.port], {
    health_checks: [{ timeout: "0.5s", interval: "0.1s", unhealthy_threshold: 2, healthy_threshold: 2, http_health_check: { path: "/healthz" } }],
  })]);
  cleanup.unshift(() => p.stop());
  await until("both hosts to pass their first check", async () => (await spread(p.url("/"))).size === 2);
  b.ok = false;
  const clusters = async () => (await get(`http://127.0.0.1:${p.adminPort}/clusters`)).text;
  await until("b to fail its checks", async () => (await clusters()).includes(`app::127.0.0.1:${bb.port}::health_flags::/failed_active_hc`));
  assert.deepEqual([...(await spread(p.url("/")))], ["a"], "only the healthy host serves");
  b.ok = true;
  await until("b to come back", async () => (await spread(p.url("/"))).size === 2);
  const stats = (await get(`http://127.0.0.1:${p.adminPort}/stats`)).text;
  assert.match(stats, /cluster\.app\.health_check\.failure: [1-9]/);
  assert.match(stats, /cluster\.app\.health_check\.healthy: 2/);
});

test("a TCP health check marks a host whose port stopped listening", async () => {
  const a = { ok: true };
  const [ba, bb] = [await healthy("a", a), await healthy("b", a)];
  cleanup.push(() => ba.close());
  const p = await proxy([httpListener("in", route)], [staticCluster("app", [ba.port, bb.port], {
    health_checks: [{ timeout: "0.5s", interval: "0.1s", unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }],
  })]);
  cleanup.unshift(() => p.stop());
  await until("both hosts up", async () => (await spread(p.url("/"))).size === 2);
  await bb.close();
  await until("b out", async () => (await get(`http://127.0.0.1:${p.adminPort}/clusters`)).text.includes(`app::127.0.0.1:${bb.port}::health_flags::/failed_active_hc`));
  assert.deepEqual([...(await spread(p.url("/")))], ["a"]);
});

test("a health check without its required fields is refused with the field's path", async () => {
  // Envoy's own validation rules catch the missing path while the bootstrap is read.
  assert.throws(() => bootstrap([], [staticCluster("app", [1], { health_checks: [{ timeout: "1s", interval: "1s", unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: {} }] })]), /health_checks\[0\]\.http_health_check\.path.*must not be empty/);
  await assert.rejects(startProxy(bootstrap([], [staticCluster("app", [1], { health_checks: [{ timeout: "1s", interval: "1s", unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: {} }] })]), { adminPort: 0 }), /grpc_health_check is not supported \(http_health_check and tcp_health_check are\)/);
});
