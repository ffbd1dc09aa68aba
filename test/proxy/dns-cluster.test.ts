// STRICT_DNS and LOGICAL_DNS clusters against a real DNS server on 127.0.0.1: re-resolution at dns_refresh_rate or
// the answer's TTL, traffic following the table, pooled connections kept for addresses that stay, last answer kept
// when a lookup fails.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { get, httpListener, proxy, type TestProxy } from "./harness.js";
import { startDnsServer } from "../fixtures/dns-server.js";
import { UpstreamCluster } from "../../src/proxy/upstream/cluster.js";
import { parseMessage } from "../../src/xds/resource.js";
import type { Cluster__Output } from "../../src/xds/generated/envoy/config/cluster/v3/Cluster.js";
import { Stats } from "../../src/proxy/stats/stats.js";

interface Named { server: Server; connections: number }

/** A backend on one loopback address answering with its name; counts the TCP connections it accepted. */
async function named(name: string, host: string, port: number): Promise<Named> {
  const b: Named = { server: createServer((_req, res) => res.end(name)), connections: 0 };
  b.server.on("connection", () => b.connections++);
  await new Promise<void>((resolve, reject) => {
    b.server.once("error", reject);
    b.server.listen(port, host, () => resolve());
  });
  return b;
}

const dns = await startDnsServer({ "api.mesh.test": ["127.0.0.2"] }, 1);
const a = await named("a", "127.0.0.2", 0);
const port = (a.server.address() as AddressInfo).port;
const b = await named("b", "127.0.0.3", port);
const proxies: TestProxy[] = [];
after(async () => {
  for (const p of proxies) await p.stop();
  for (const s of [a, b]) {
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
  }
  await dns.close();
});

const CARES = "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig";

function dnsCluster(name: string, type: "STRICT_DNS" | "LOGICAL_DNS", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, type, connect_timeout: "1s", dns_lookup_family: "V4_ONLY", dns_refresh_rate: "0.2s",
    typed_dns_resolver_config: { name: "envoy.network.dns_resolver.cares", typed_config: { "@type": CARES, resolvers: [{ socket_address: { address: "127.0.0.1", port_value: dns.port } }] } },
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "api.mesh.test", port_value: port } } } }] }] },
    ...extra,
  };
}

async function start(cluster: Record<string, unknown>): Promise<TestProxy> {
  const p = await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: cluster.name } }] }] })], [cluster]);
  proxies.push(p);
  return p;
}

/** Asks until the answer is `want` (bounded: 50 tries, 100 ms apart); returns the last answer. */
async function until(p: TestProxy, want: string): Promise<string> {
  let last = "";
  for (let i = 0; i < 50; i++) {
    const r = await get(p.url("/"));
    last = r.status === 200 ? r.text : `${r.status}`;
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

test("STRICT_DNS through a custom resolver follows the table; connections to an address that stays are kept", async () => {
  dns.records.set("api.mesh.test", ["127.0.0.2"]);
  const p = await start(dnsCluster("strict", "STRICT_DNS"));
  assert.equal(await until(p, "a"), "a");
  const before = a.connections;
  dns.records.set("api.mesh.test", ["127.0.0.2", "127.0.0.3"]);
  const seen = new Set<string>();
  for (let i = 0; i < 60 && seen.size < 2; i++) {
    seen.add((await get(p.url("/"))).text);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual([...seen].sort(), ["a", "b"], "both addresses get traffic once the name resolves to both");
  assert.equal(a.connections, before, "the pooled connection to 127.0.0.2 survived the re-resolutions");
  dns.records.set("api.mesh.test", ["127.0.0.3"]);
  // Two lookups after the change: the first one's answer is in force once the second is asked.
  const asked = dns.queries.get("api.mesh.test") ?? 0;
  for (let i = 0; i < 50 && (dns.queries.get("api.mesh.test") ?? 0) < asked + 2; i++) await new Promise((r) => setTimeout(r, 50));
  const answers = new Set<string>();
  for (let i = 0; i < 10; i++) answers.add((await get(p.url("/"))).text);
  assert.deepEqual([...answers], ["b"], "127.0.0.2 left the cluster");
});

test("a failing lookup keeps the last addresses; the stats count attempts and failures", async () => {
  dns.records.set("api.mesh.test", ["127.0.0.2"]);
  const p = await start(dnsCluster("keep", "STRICT_DNS"));
  assert.equal(await until(p, "a"), "a");
  dns.records.delete("api.mesh.test");
  const failures = () => p.proxy.stats.counter("cluster.keep.update_failure");
  for (let i = 0; i < 50 && failures() < 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(failures() >= 2, "lookups failed (NXDOMAIN)");
  assert.ok(p.proxy.stats.counter("cluster.keep.update_attempt") > failures(), "attempts counted, the first one succeeded");
  assert.equal((await get(p.url("/"))).text, "a", "the host resolved before stays");
  dns.records.set("api.mesh.test", ["127.0.0.2"]);
});

test("respect_dns_ttl re-resolves at the answer's TTL rather than a long dns_refresh_rate", async () => {
  dns.records.set("api.mesh.test", ["127.0.0.2"]);
  const p = await start(dnsCluster("ttl", "STRICT_DNS", { dns_refresh_rate: "3600s", respect_dns_ttl: true }));
  assert.equal(await until(p, "a"), "a");
  dns.records.set("api.mesh.test", ["127.0.0.3"]);
  assert.equal(await until(p, "b"), "b", "moved within the 1 s TTL (the refresh rate alone would take an hour)");
});

test("LOGICAL_DNS uses the first address of the answer", async () => {
  dns.records.set("api.mesh.test", ["127.0.0.3", "127.0.0.2"]);
  const p = await start(dnsCluster("logical", "LOGICAL_DNS"));
  assert.equal(await until(p, "b"), "b");
  for (let i = 0; i < 5; i++) assert.equal((await get(p.url("/"))).text, "b");
});

test("a changed DNS cluster starts from the answers of the one it replaces", async () => {
  dns.records.set("api.mesh.test", ["127.0.0.2"]);
  const p = await start(dnsCluster("handover", "STRICT_DNS", { dns_refresh_rate: "60s" }));
  assert.equal(await until(p, "a"), "a");
  // The DNS server stops knowing the name: the new cluster's own lookups fail, yet it has a host at once.
  dns.records.delete("api.mesh.test");
  const changed = parseMessage<Cluster__Output>("envoy.config.cluster.v3.Cluster", dnsCluster("handover", "STRICT_DNS", { dns_refresh_rate: "60s", connect_timeout: "2s" }));
  assert.ok(changed.ok);
  assert.ok(p.proxy.applyClusters([changed.value], "2", true).ok);
  assert.equal((await get(p.url("/"))).text, "a");
  dns.records.set("api.mesh.test", ["127.0.0.2"]);
});

test("the deprecated dns_resolvers field names the resolver too", async () => {
  dns.records.set("api.mesh.test", ["127.0.0.3"]);
  const legacy = dnsCluster("legacy", "STRICT_DNS", { dns_resolvers: [{ socket_address: { address: "127.0.0.1", port_value: dns.port } }] });
  delete legacy.typed_dns_resolver_config;
  const p = await start(legacy);
  assert.equal(await until(p, "b"), "b", "api.mesh.test is only known to the test's DNS server");
});

test("without a resolver the system's getaddrinfo resolves (localhost from /etc/hosts)", async (t) => {
  const local = await named("local", "127.0.0.1", 0);
  t.after(() => new Promise((r) => { local.server.closeAllConnections(); local.server.close(r); }));
  const system = dnsCluster("system", "STRICT_DNS");
  delete system.typed_dns_resolver_config;
  (system.load_assignment as { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: Record<string, unknown> } } }> }> }).endpoints[0].lb_endpoints[0].endpoint.address.socket_address = { address: "localhost", port_value: (local.server.address() as AddressInfo).port };
  const p = await start(system);
  assert.equal(await until(p, "local"), "local");
});

test("bad DNS settings are refused naming the field", () => {
  const build = (c: Record<string, unknown>) => {
    const parsed = parseMessage<Cluster__Output>("envoy.config.cluster.v3.Cluster", c);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    return new UpstreamCluster(parsed.value, new Stats(), () => undefined).close();
  };
  assert.throws(() => build(dnsCluster("x", "STRICT_DNS", { typed_dns_resolver_config: { name: "c", typed_config: { "@type": CARES, resolvers: [{ socket_address: { address: "dns.example", port_value: 53 } }] } } })), /typed_dns_resolver_config\.typed_config\.resolvers\[0\].*IP address/);
  const legacy = dnsCluster("x", "STRICT_DNS", { dns_resolvers: [{ socket_address: { address: "resolver", port_value: 53 } }] });
  delete legacy.typed_dns_resolver_config;
  assert.throws(() => build(legacy), /dns_resolvers\[0\]/);
  const two = dnsCluster("x", "LOGICAL_DNS");
  (two.load_assignment as { endpoints: Array<{ lb_endpoints: unknown[] }> }).endpoints[0].lb_endpoints.push({ endpoint: { address: { socket_address: { address: "other.mesh.test", port_value: port } } } });
  assert.throws(() => build(two), /LOGICAL_DNS cluster takes exactly one endpoint/);
});

test("auto_host_rewrite sends the DNS name the host was resolved from as Host, the original in x-forwarded-host", async () => {
  const seen: Array<{ host?: string; forwarded?: string }> = [];
  const hostEcho = createServer((req, res) => {
    seen.push({ host: req.headers.host, forwarded: req.headers["x-forwarded-host"] as string | undefined });
    res.end("ok");
  });
  await new Promise<void>((r) => hostEcho.listen(0, "127.0.0.2", r));
  const echoPort = (hostEcho.address() as AddressInfo).port;
  try {
    dns.records.set("hosts.mesh.test", ["127.0.0.2"]);
    const cluster = dnsCluster("hosts", "STRICT_DNS", { load_assignment: { cluster_name: "hosts", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "hosts.mesh.test", port_value: echoPort } } } }] }] } });
    const p = await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "hosts", auto_host_rewrite: true } }] }] })], [cluster]);
    proxies.push(p);
    let answer = "";
    for (let i = 0; i < 50 && answer !== "ok"; i++) {
      answer = (await get(p.url("/"))).text;
      if (answer !== "ok") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(answer, "ok");
    const last = seen[seen.length - 1];
    assert.equal(last.host, "hosts.mesh.test");
    assert.equal(last.forwarded, `127.0.0.1:${p.port()}`);
  } finally {
    hostEcho.closeAllConnections();
    await new Promise((r) => hostEcho.close(r));
  }
});
