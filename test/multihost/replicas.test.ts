// Universal mode across hosts with replicas on etcd: three test hosts (network namespaces on a bridge), an etcd member
// on each, control-plane replicas on hosts 1 and 2, a client on host 1 and the echo service's v1 on host 2 and v2 on
// host 3. Proves sidecar-to-sidecar mTLS across hosts, a write through one replica reaching the other's proxies,
// and, under steady traffic, a killed replica (no request fails, proxies move, writes keep working) and etcd losing
// one member (nothing changes) then two (the mesh serves, writes are refused by name, then resume).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
});
