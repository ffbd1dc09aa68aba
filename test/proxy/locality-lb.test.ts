// Locality weighted load balancing and priority failover through a real proxy to real backends.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { backend, echo, get, httpListener, proxy, type Backend } from "./harness.js";

const cleanup: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

async function track<T extends { close?: () => Promise<void>; stop?: () => Promise<void> }>(x: T): Promise<T> {
  cleanup.push(() => (x.stop ?? x.close)!.call(x));
  return x;
}

const listener = httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "c" } }] }] });

function locality(zone: string, priority: number, weight: number | undefined, backends: Backend[]): Record<string, unknown> {
  return {
    locality: { region: "r1", zone, sub_zone: "" }, priority,
    ...(weight !== undefined ? { load_balancing_weight: weight } : {}),
    lb_endpoints: backends.map((b) => ({ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: b.port } } } })),
  };
}

function cluster(endpoints: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: "c", type: "STATIC", connect_timeout: "1s", load_assignment: { cluster_name: "c", endpoints }, ...extra };
}

/** `n` requests, 20 at a time; returns the count per x-backend name. */
async function spread(url: string, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => get(url)));
    for (const r of batch) {
      const name = String(r.headers["x-backend"] ?? r.status);
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}

test("locality weights 80/20 split traffic between localities when locality weighted LB is on", async () => {
  const a1 = await track(await echo("a"));
  const a2 = await track(await echo("a"));
  const b1 = await track(await echo("b"));
  const b2 = await track(await echo("b"));
  const endpoints = [locality("za", 0, 80, [a1, a2]), locality("zb", 0, 20, [b1, b2])];
  const p = await track(await proxy([listener], [cluster(endpoints, { common_lb_config: { locality_weighted_lb_config: {} } })]));
  const counts = await spread(p.url("/"), 1000);
  assert.ok(Math.abs((counts.a ?? 0) - 800) <= 100, `za got ${counts.a}, want about 800`);
  assert.ok(Math.abs((counts.b ?? 0) - 200) <= 100, `zb got ${counts.b}, want about 200`);

  // Without locality_weighted_lb_config Envoy ignores locality weights: round robin over all four hosts.
  const q = await track(await proxy([listener], [cluster(endpoints)]));
  const even = await spread(q.url("/"), 400);
  assert.ok(Math.abs((even.a ?? 0) - 200) <= 40, `without locality weighting za got ${even.a} of 400, want about 200`);
});

test("when outlier detection ejects the local priority's hosts, traffic fails over to the next priority", async () => {
  const local1 = await track(await backend((_q, s) => s.writeHead(503, { "x-backend": "local" }).end("down")));
  const local2 = await track(await backend((_q, s) => s.writeHead(503, { "x-backend": "local" }).end("down")));
  const remote = await track(await echo("remote"));
  const endpoints = [locality("za", 0, undefined, [local1, local2]), locality("zb", 1, undefined, [remote])];
  const p = await track(await proxy([listener], [cluster(endpoints, {
    outlier_detection: { consecutive_5xx: 2, interval: "1s", base_ejection_time: "30s", max_ejection_percent: 100 },
  })]));
  // P0 is fully healthy at first, so it takes all the load: the first two requests (one per host) fail there.
  assert.deepEqual([(await get(p.url("/"))).status, (await get(p.url("/"))).status], [503, 503]);
  assert.equal(remote.hits, 0, "no spillover while P0 is healthy");
  // Once one host is ejected P0 is half healthy (health 70): 30% spills to P1 until the second host is ejected too.
  for (let i = 0; i < 30 && p.proxy.stats.counter("cluster.c.outlier_detection.ejections_enforced_total") < 2; i++) await get(p.url("/"));
  assert.equal(p.proxy.stats.counter("cluster.c.outlier_detection.ejections_enforced_total"), 2);
  const localHits = local1.hits + local2.hits;
  const after = await spread(p.url("/"), 40);
  assert.deepEqual(after, { remote: 40 }, "every request now goes to P1");
  assert.equal(local1.hits + local2.hits, localHits, "no more requests to the ejected hosts");
  const admin = (await get(`http://127.0.0.1:${p.adminPort}/clusters`)).text;
  assert.match(admin, new RegExp(`c::127\\.0\\.0\\.1:${remote.port}::priority::1\nc::127\\.0\\.0\\.1:${remote.port}::region::r1\nc::127\\.0\\.0\\.1:${remote.port}::zone::zb\n`));
  assert.match(admin, new RegExp(`c::127\\.0\\.0\\.1:${local1.port}::health_flags::/failed_outlier_check`));
});

test("a half-healthy P0 keeps 70% of the load (factor 1.4) and spills 30% to P1; overprovisioning_factor 200 keeps it all", async () => {
  const p0 = await track(await echo("p0"));
  const p1 = await track(await echo("p1"));
  // The second P0 host is UNHEALTHY by EDS, so it is never picked and needs no server.
  const endpoints = [
    { priority: 0, lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: p0.port } } } }, { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 1 } } }, health_status: "UNHEALTHY" }] },
    { priority: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: p1.port } } } }] },
  ];
  const p = await track(await proxy([listener], [cluster(endpoints)]));
  const spill = await spread(p.url("/"), 400);
  assert.ok(Math.abs((spill.p0 ?? 0) - 280) <= 40, `P0 got ${spill.p0} of 400, want about 280 (70%)`);
  assert.ok(Math.abs((spill.p1 ?? 0) - 120) <= 40, `P1 got ${spill.p1} of 400, want about 120 (30%)`);
  const q = await track(await proxy([listener], [{ ...cluster(endpoints), load_assignment: { cluster_name: "c", endpoints, policy: { overprovisioning_factor: 200 } } }]));
  assert.deepEqual(await spread(q.url("/"), 100), { p0: 100 });
});
