// Retries, timeouts, circuit breakers, outlier detection and faults, each shown working and at its limit.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { backend, echo, get, httpListener, proxy, ROUTER, staticCluster, type TestProxy } from "./harness.js";

const cleanup: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

async function track<T extends { close?: () => Promise<void>; stop?: () => Promise<void> }>(x: T): Promise<T> {
  cleanup.push(() => (x.stop ?? x.close)!.call(x));
  return x;
}

function single(cluster: string, route: Record<string, unknown> = {}, filters: unknown[] = [ROUTER]) {
  return httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster, ...route } }] }] }, filters);
}

test("retry on 5xx succeeds after failures; gives up after num_retries with the upstream's status", async () => {
  let n = 0;
  const flaky = await track(await backend((_q, s) => { n++; s.writeHead(n % 3 === 0 ? 200 : 503).end(`try ${n}`); }));
  const p: TestProxy = await track(await proxy([single("f", { retry_policy: { retry_on: "5xx", num_retries: 2, retry_back_off: { base_interval: "0.001s" } } })], [staticCluster("f", [flaky.port])]));
  const ok = await get(p.url("/"));
  assert.equal(ok.status, 200);
  assert.equal(ok.text, "try 3");
  const always = await track(await backend((_q, s) => s.writeHead(503).end("no")));
  const q = await track(await proxy([single("x", { retry_policy: { retry_on: "5xx", num_retries: 2, retry_back_off: { base_interval: "0.001s" } } })], [staticCluster("x", [always.port])]));
  const gaveUp = await get(q.url("/"));
  assert.equal(gaveUp.status, 503);
  assert.equal(always.hits, 3, "one try and two retries");
  assert.equal(q.proxy.stats.counter("cluster.x.upstream_rq_retry"), 2);
});

test("retry on connect-failure moves to another host (previous_hosts)", async () => {
  const good = await track(await echo("good"));
  const dead = await track(await echo("dead"));
  const deadPort = dead.port;
  await dead.close();
  cleanup.pop();
  const p = await track(await proxy([single("c", { retry_policy: { retry_on: "connect-failure", num_retries: 3, retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" } }], retry_back_off: { base_interval: "0.001s" } } })], [staticCluster("c", [deadPort, good.port])]));
  for (let i = 0; i < 6; i++) assert.equal((await get(p.url("/"))).json().name, "good");
});

test("route timeout answers 504 UT; per-try timeout retries then times out", async () => {
  const slow = await track(await backend((_q, s) => { setTimeout(() => s.writeHead(200).end("late"), 1500); }));
  const p = await track(await proxy([single("s", { timeout: "0.2s" })], [staticCluster("s", [slow.port])]));
  const r = await get(p.url("/"));
  assert.equal(r.status, 504);
  assert.equal(r.text, "upstream request timeout");
  const q = await track(await proxy([single("s", { timeout: "2s", retry_policy: { retry_on: "5xx", num_retries: 1, per_try_timeout: "0.1s", retry_back_off: { base_interval: "0.001s" } } })], [staticCluster("s", [slow.port])]));
  const before = slow.hits;
  assert.equal((await get(q.url("/"))).status, 504);
  assert.equal(slow.hits - before, 2, "the first try and one retry each hit the per-try timeout");
});

test("circuit breaker: max_requests 1 answers the overflow with 503 UO", async () => {
  const slow = await track(await backend((_q, s) => { setTimeout(() => s.writeHead(200).end("ok"), 300); }));
  const p = await track(await proxy([single("cb")], [staticCluster("cb", [slow.port], { circuit_breakers: { thresholds: [{ max_requests: 1 }] } })]));
  const [first, second] = await Promise.all([get(p.url("/1")), new Promise((r) => setTimeout(r, 50)).then(() => get(p.url("/2")))]);
  assert.equal(first.status, 200);
  assert.equal(second.status, 503);
  assert.match(second.text, /overflow/);
  assert.equal(p.proxy.stats.counter("cluster.cb.upstream_rq_pending_overflow"), 1);
});

test("outlier detection ejects a host after consecutive 5xx, and traffic goes to the healthy one", async () => {
  const bad = await track(await backend((_q, s) => s.writeHead(500).end("bad")));
  const good = await track(await echo("good"));
  const p = await track(await proxy([single("o")], [staticCluster("o", [bad.port, good.port], { outlier_detection: { consecutive_5xx: 3, interval: "1s", base_ejection_time: "30s", max_ejection_percent: 50 } })]));
  for (let i = 0; i < 10; i++) await get(p.url("/"));
  assert.equal(bad.hits, 3, "ejected after three 5xx in a row");
  const statuses = await Promise.all(Array.from({ length: 5 }, () => get(p.url("/")).then((r) => r.status)));
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  assert.equal(p.proxy.stats.counter("cluster.o.outlier_detection.ejections_enforced_total"), 1);
});

test("connection failure answers 503 UF; an empty cluster answers 503 UH", async () => {
  const gone = await echo("gone");
  const port = gone.port;
  await gone.close();
  const p = await track(await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [
    { match: { prefix: "/uf" }, route: { cluster: "down" } },
    { match: { prefix: "/uh" }, route: { cluster: "empty" } },
  ] }] })], [staticCluster("down", [port]), staticCluster("empty", [])]));
  const uf = await get(p.url("/uf"));
  assert.equal(uf.status, 503);
  assert.match(uf.text, /connection failure/);
  const uh = await get(p.url("/uh"));
  assert.equal(uh.status, 503);
  assert.equal(uh.text, "no healthy upstream");
});

test("fault filter: abort with a status, and a delay, per route as Istio configures them", async () => {
  const b = await track(await echo("b"));
  const FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
  const p = await track(await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [
    { match: { prefix: "/abort" }, route: { cluster: "b" }, typed_per_filter_config: { "envoy.filters.http.fault": { "@type": FAULT, abort: { http_status: 500, percentage: { numerator: 100 } } } } },
    { match: { prefix: "/delay" }, route: { cluster: "b" }, typed_per_filter_config: { "envoy.filters.http.fault": { "@type": FAULT, delay: { fixed_delay: "0.3s", percentage: { numerator: 100 } } } } },
    { match: { prefix: "/" }, route: { cluster: "b" } },
  ] }] }, [{ name: "envoy.filters.http.fault", typed_config: { "@type": FAULT } }, ROUTER])], [staticCluster("b", [b.port])]));
  const aborted = await get(p.url("/abort"));
  assert.equal(aborted.status, 500);
  assert.equal(aborted.text, "fault filter abort");
  const t0 = Date.now();
  assert.equal((await get(p.url("/delay"))).status, 200);
  assert.ok(Date.now() - t0 >= 290, "delayed by the fault");
  const hits = b.hits;
  assert.equal((await get(p.url("/plain"))).status, 200);
  assert.equal(b.hits, hits + 1);
});

test("RBAC filter denies with 403 and allows what the policy names", async () => {
  const b = await track(await echo("b"));
  const p = await track(await proxy([single("b", {}, [{ name: "envoy.filters.http.rbac", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    rules: { action: "ALLOW", policies: { "get-only": { permissions: [{ header: { name: ":method", string_match: { exact: "GET" } } }], principals: [{ any: true }] } } } } }, ROUTER])], [staticCluster("b", [b.port])]));
  assert.equal((await get(p.url("/"))).status, 200);
  const denied = await get(p.url("/"), {}, "POST");
  assert.equal(denied.status, 403);
  assert.equal(denied.text, "RBAC: access denied");
});
