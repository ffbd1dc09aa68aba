// Universal mode across hosts with replicas on etcd: three test hosts (network namespaces on a bridge), an etcd member
// on each, control-plane replicas on hosts 1 and 2, a client on host 1 and the echo service's v1 on host 2 and v2 on
// host 3. Proves sidecar-to-sidecar mTLS across hosts, a write through one replica reaching the other's proxies,
// and, under steady traffic, a killed replica (no request fails, proxies move, writes keep working) and etcd losing
// one member (nothing changes) then two (the mesh serves, writes are refused by name, then resume); a host cut off
// (its endpoint ejected, then back); everything restarted (config and identities kept, no new tokens).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { etcdBinary } from "../fixtures/hosts/etcd-cluster.js";
import { hostsUnavailable } from "../fixtures/hosts/hosts.js";
import { MeshOnHosts } from "../fixtures/hosts/mesh-on-hosts.js";
import { until } from "../fixtures/until.js";

const bin = await etcdBinary();
const skip = hostsUnavailable() ?? (bin.ok ? false : bin.reason);
const CLIENT_URL = "http://127.0.0.1:18080/";

const dr = { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "echo", namespace: "default" }, spec: { host: "echo", subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] } };
const routeTo = (subset: string) => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "echo", namespace: "default" }, spec: { hosts: ["echo"], http: [{ route: [{ destination: { host: "echo", subset } }] }] } });
const strict = { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", namespace: "default" }, spec: { mtls: { mode: "STRICT" } } };
const path = (plural: string, name: string) => `/apis/${plural === "peerauthentications" ? "security" : "networking"}.istio.io/v1/namespaces/default/${plural}/${name}`;

describe("a mesh across three hosts with two control-plane replicas on etcd", { skip }, () => {
  let dir: string;
  let mesh: MeshOnHosts;
  let echoInbound: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-multihost-"));
    mesh = new MeshOnHosts((bin as { path: string }).path, dir);
    await mesh.startEtcd();
    await mesh.startReplica(0);
    await mesh.startReplica(1);
    const v1 = await mesh.run(2, "echo", "v1", ["--port", "8080"], mesh.echoApp(), { REPLY: "echo-v1" });
    echoInbound = /sidecar inbound on (\S+?),/.exec(readFileSync(v1.log, "utf8"))![1];
    await mesh.run(3, "echo", "v2", ["--port", "8080"], mesh.echoApp(), { REPLY: "echo-v2" });
    await mesh.run(1, "client", "v1", ["--port", "9999", "--upstream", "echo:8080=18080"], [process.execPath, "-e", "setInterval(() => {}, 1 << 30)"]);
  });

  after(async () => {
    await mesh?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function answers(n: number): Promise<Record<string, number>> {
    const agent = await mesh.hosts.agent(1);
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await agent.fetch(CLIENT_URL, { timeoutMs: 5000 });
      const key = "status" in r ? (r.status === 200 ? r.body.trim() : `HTTP ${r.status}`) : "error";
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  }

  async function put(i: number, plural: string, body: { metadata: { name: string } }): Promise<{ status: number; body: string } | { error: string }> {
    return mesh.rest(i, "PUT", path(plural, body.metadata.name), body);
  }

  it("serves the client on host 1 from both hosts' echo over mutual TLS, and refuses plaintext under STRICT", async (t) => {
    await until("the client reaches echo v1 (host 2) and v2 (host 3)", async () => { const s = await answers(6); return !!s["echo-v1"] && !!s["echo-v2"]; }, 90_000);
    assert.equal((await put(1, "peerauthentications", strict) as { status: number }).status, 200);
    const agent = await mesh.hosts.agent(1);
    await until("echo's sidecar refuses a plaintext request from host 1", async () => { const r = await agent.fetch(`http://${echoInbound}/`, { timeoutMs: 3000 }); return "error" in r || r.status !== 200; }, 30_000);
    const s = await answers(10);
    t.diagnostic(`under STRICT: ${JSON.stringify(s)}; plaintext to ${echoInbound} refused`);
    assert.equal((s["echo-v1"] ?? 0) + (s["echo-v2"] ?? 0), 10, JSON.stringify(s));
  });

  it("a write through one replica reaches the proxies connected to the other", async (t) => {
    const onFirst = await mesh.proxiesOn(0);
    const clientOn = onFirst.some((id) => id.startsWith("client-")) ? 0 : 1;
    const other = 1 - clientOn;
    t.diagnostic(`client's sidecar is on replica ${clientOn} (host ${mesh.replicas[clientOn].host}); writing through replica ${other}`);
    assert.equal((await put(other, "destinationrules", dr) as { status: number }).status, 200);
    assert.equal((await put(other, "virtualservices", routeTo("v2")) as { status: number }).status, 200);
    const t0 = Date.now();
    await until("every answer from v2", async () => (await answers(4))["echo-v2"] === 4, 30_000);
    t.diagnostic(`routing change visible through the other replica's proxy after ${Date.now() - t0} ms`);
  });

  it("trellis proxy-status from either replica lists every proxy, synced, whichever replica it is connected to", async (t) => {
    for (const i of [0, 1]) {
      await until(`replica ${i} lists all three proxies`, async () => (await mesh.proxiesOn(i, true)).length === 3, 30_000);
      const { status, out } = mesh.cli(mesh.replicas[i].host, i, ["proxy-status", "--control", `${mesh.hosts.address(mesh.replicas[i].host)}:15014`]);
      assert.equal(status, 0, out);
      const rows = out.split("\n").filter((l) => /^(client|echo)-/.test(l));
      assert.equal(rows.length, 3, out);
      // The echo sidecars call nothing, so they get no EDS or RDS (NOT SENT); nothing may be STALE, NACKED or ERROR.
      for (const row of rows) assert.match(row, /^\S+\s+SYNCED\s+SYNCED\s+(SYNCED|NOT SENT)\s+(SYNCED|NOT SENT)\s+trellis$/, out);
      assert.match(rows.find((r) => r.startsWith("client-"))!, /SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/, out);
      if (i === 1) t.diagnostic(`proxy-status on replica 1:\n${out}`);
    }
  });

  it("a replica killed under steady traffic: no request fails, its proxies move to the other, writes keep working", async (t) => {
    const onFirst = await mesh.proxiesOn(0);
    const victim = onFirst.some((id) => id.startsWith("client-")) ? 0 : 1;
    const survivor = 1 - victim;
    const moving = await mesh.proxiesOn(victim);
    const agent = await mesh.hosts.agent(1);
    const load = agent.load(CLIENT_URL, 25_000, 50);
    await new Promise((r) => setTimeout(r, 3000));
    const killed = Date.now();
    mesh.replicas[victim].child!.kill("SIGKILL");
    await until(`the ${moving.length} proxies of the killed replica connected to the survivor`, async () => { const on = await mesh.proxiesOn(survivor); return moving.every((id) => on.includes(id)); }, 60_000);
    const reconnectMs = Date.now() - killed;
    const write = await put(survivor, "virtualservices", routeTo("v1"));
    assert.equal("status" in write && write.status, 200, JSON.stringify(write));
    await until("every answer from v1 after the write through the survivor", async () => (await answers(4))["echo-v1"] === 4, 30_000);
    const report = await load;
    t.diagnostic(`replica on host ${mesh.replicas[victim].host} killed: ${moving.length} proxies reconnected to the other within ${reconnectMs} ms; ` +
      `traffic ${report.sent} requests, ${report.failed} failed, slowest ${report.slowestMs} ms, answers ${JSON.stringify(report.bodies)}`);
    assert.equal(report.failed, 0, report.failures.join("\n"));
    await mesh.startReplica(victim);
  });

  it("etcd losing one member changes nothing; losing two refuses writes by name while the mesh serves; then writes resume", async (t) => {
    const agent = await mesh.hosts.agent(1);
    const load = agent.load(CLIENT_URL, 30_000, 50);
    await mesh.etcd.kill(2);
    const one = await put(0, "virtualservices", routeTo("v2"));
    assert.equal("status" in one && one.status, 200, `a write with one member down: ${JSON.stringify(one)}`);
    await until("every answer from v2", async () => (await answers(4))["echo-v2"] === 4, 30_000);
    await mesh.etcd.kill(1);
    const refused = await put(0, "virtualservices", routeTo("v1"));
    t.diagnostic(`with two of three members down, a write answered: ${JSON.stringify(refused).slice(0, 400)}`);
    assert.ok("status" in refused && refused.status === 503 && /etcd store/.test(refused.body) && /quorum/.test(refused.body), JSON.stringify(refused));
    assert.equal((await answers(4))["echo-v2"], 4, "the mesh keeps serving its last config");
    const down = Date.now();
    await mesh.etcd.start([1, 2]);
    await until("writes accepted again once etcd has its quorum back", async () => { const r = await put(0, "virtualservices", routeTo("v1")); return "status" in r && r.status === 200; }, 90_000);
    const resumedMs = Date.now() - down;
    await until("every answer from v1", async () => (await answers(4))["echo-v1"] === 4, 30_000);
    const report = await load;
    t.diagnostic(`etcd quorum back: writes resumed ${resumedMs} ms after the members restarted; traffic ${report.sent} requests, ${report.failed} failed, slowest ${report.slowestMs} ms`);
    assert.equal(report.failed, 0, report.failures.join("\n"));
  });

  it("a host cut off leaves the others' load balancing through outlier detection, and comes back when it returns", async (t) => {
    const detecting = { ...dr, spec: { ...dr.spec, trafficPolicy: { connectionPool: { tcp: { connectTimeout: "1s" } }, outlierDetection: { consecutiveGatewayErrors: 1, consecutive5xxErrors: 1, interval: "1s", baseEjectionTime: "10s", maxEjectionPercent: 100 } } } };
    assert.equal((await put(0, "destinationrules", detecting) as { status: number }).status, 200);
    const del = await mesh.rest(0, "DELETE", path("virtualservices", "echo"));
    assert.equal("status" in del && del.status, 200, JSON.stringify(del));
    await until("both versions answer again", async () => { const s = await answers(8); return !!s["echo-v1"] && !!s["echo-v2"]; }, 30_000);
    mesh.hosts.cut(3);
    const cut = Date.now();
    const during: Record<string, number> = {};
    await until("host 3's echo v2 out of the client's load balancing (10 answers in a row from v1)", async () => {
      const s = await answers(10);
      for (const [k, v] of Object.entries(s)) during[k] = (during[k] ?? 0) + v;
      return s["echo-v1"] === 10;
    }, 60_000);
    const leftMs = Date.now() - cut;
    mesh.hosts.heal(3);
    const healed = Date.now();
    await until("host 3's echo v2 answering again", async () => !!(await answers(6))["echo-v2"], 120_000);
    t.diagnostic(`host 3 cut off: its endpoint left the client's load balancing ${leftMs} ms after the cut (answers meanwhile ${JSON.stringify(during)}); back ${Date.now() - healed} ms after it returned`);
  });

  it("everything restarted: config and identities are what they were, no workload needs a new token", async (t) => {
    const root = readFileSync(join(mesh.replicas[0].stateDir, "ca", "root-cert.pem"), "utf8");
    const tokens = readdirSync(dir).filter((f) => f.endsWith(".token")).map((f) => [f, statSync(join(dir, f)).mtimeMs] as const);
    await mesh.stopAll();
    // Replica 2 starts from an empty state dir: the CA's material can only come from the store.
    rmSync(mesh.replicas[1].stateDir, { recursive: true, force: true });
    const restart = Date.now();
    await mesh.startEtcd();
    await mesh.startReplica(0);
    await mesh.startReplica(1);
    assert.equal(readFileSync(join(mesh.replicas[1].stateDir, "ca", "root-cert.pem"), "utf8"), root, "the fresh replica signs under the same root");
    await mesh.rerunAll();
    await until("the client reaches both versions after the restart", async () => { const s = await answers(8); return !!s["echo-v1"] && !!s["echo-v2"]; }, 90_000);
    const servedMs = Date.now() - restart;
    for (const [f, mtime] of tokens) assert.equal(statSync(join(dir, f)).mtimeMs, mtime, `${f} was reused, not remade`);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith(".token")).length, tokens.length, "no new token");
    const pa = await mesh.rest(1, "GET", path("peerauthentications", "default"));
    assert.ok("status" in pa && pa.status === 200 && pa.body.includes("STRICT"), JSON.stringify(pa));
    t.diagnostic(`restarted etcd, both replicas (one from an empty state dir) and three workloads with their old tokens: serving again after ${servedMs} ms`);
  });
});
