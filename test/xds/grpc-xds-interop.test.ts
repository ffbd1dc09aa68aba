// Interop with an independent xDS client: @grpc/grpc-js-xds, pointed at trellis control, routes real gRPC calls as
// the VirtualService says (header match, weights, fault injection) and hashes by header as the DestinationRule says;
// its ACKs count in a change's propagation, and once the control plane says it holds a change, its calls follow it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import { ControlPlane } from "../../src/control/control-plane.js";
import { startEchoServer } from "../proxy/grpc-echo.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-grpc-xds-"));
const cleanup: Array<() => Promise<void> | void> = [];
let cp: ControlPlane;
let bootstrapFile: string;
const TARGET = "echo.default.svc.cluster.local:9080";

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 10, log: () => {} });
  await cp.start();
  cleanup.push(() => cp.stop());
  const s1 = await startEchoServer("s1");
  const s2 = await startEchoServer("s2");
  cleanup.push(() => s1.close(), () => s2.close());
  const put = (kind: string, name: string, spec: Record<string, unknown>) => cp.store.put({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace: "default" }, spec } as IstioResource);
  put("ServiceEntry", "echo", { hosts: ["echo.default.svc.cluster.local"], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 9080, name: "grpc", protocol: "GRPC" }], workloadSelector: { labels: { app: "echo" } } });
  put("WorkloadEntry", "echo-v1", { address: "127.0.0.1", ports: { grpc: s1.port }, labels: { app: "echo", version: "v1" } });
  put("WorkloadEntry", "echo-v2", { address: "127.0.0.1", ports: { grpc: s2.port }, labels: { app: "echo", version: "v2" } });
  put("DestinationRule", "echo", { host: "echo", subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] });
  bootstrapFile = join(dir, "bootstrap.json");
  writeFileSync(bootstrapFile, JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${cp.ports.xds}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
    node: { id: "grpc-client.default", cluster: "client", metadata: { GENERATOR: "grpc", NAMESPACE: "default" }, locality: { region: "trellis", zone: "local" } },
  }));
});

after(async () => {
  for (const c of cleanup.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function setVirtualService(http: unknown[]): void {
  cp.store.put({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "echo", namespace: "default" }, spec: { hosts: ["echo.default.svc.cluster.local"], http } } as IstioResource);
}

function calls(list: Array<{ metadata?: Record<string, string>; pauseUntil?: string }>, onLine?: (line: string) => void): Promise<Array<{ server?: string; code?: number }>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["dist/test/xds/fixtures/grpc-xds-client.js", TARGET, JSON.stringify(list)], { env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrapFile }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => { out += d; onLine?.(out); });
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => { child.kill(); reject(new Error(`grpc-xds client timed out: ${err}`)); }, 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`grpc-xds client exited ${code}: ${err}`));
      resolve(out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
    });
  });
}

test("header match and weights route real gRPC calls of a grpc-js-xds client", async () => {
  setVirtualService([
    { match: [{ headers: { "x-user": { exact: "alice" } } }], route: [{ destination: { host: "echo", subset: "v2" } }] },
    { route: [{ destination: { host: "echo", subset: "v1" }, weight: 100 }, { destination: { host: "echo", subset: "v2" }, weight: 0 }] },
  ]);
  await new Promise((r) => setTimeout(r, 100));
  const res = await calls([{}, {}, {}, { metadata: { "x-user": "alice" } }, { metadata: { "x-user": "alice" } }, {}]);
  assert.deepEqual(res.map((r) => r.server), ["s1", "s1", "s1", "s2", "s2", "s1"]);
});

test("fault injection aborts calls with the gRPC status the VirtualService names", async () => {
  setVirtualService([{ fault: { abort: { grpcStatus: "UNAVAILABLE", percentage: { value: 100 } } }, route: [{ destination: { host: "echo", subset: "v1" } }] }]);
  await new Promise((r) => setTimeout(r, 100));
  const res = await calls([{}, {}]);
  assert.deepEqual(res, [{ code: 14 }, { code: 14 }]);
});

test("consistent hashing by header keeps each user on one server", async () => {
  cp.store.put({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "echo", namespace: "default" }, spec: { host: "echo", trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: "x-user" } } } } } as IstioResource);
  setVirtualService([{ route: [{ destination: { host: "echo" } }] }]);
  await new Promise((r) => setTimeout(r, 100));
  const users = ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"];
  const res = await calls(users.flatMap((u) => [0, 1, 2].map(() => ({ metadata: { "x-user": u } }))));
  const byUser = new Map<string, Set<string>>();
  res.forEach((r, i) => { const u = users[Math.floor(i / 3)]; byUser.set(u, (byUser.get(u) ?? new Set()).add(String(r.server ?? r.code))); });
  for (const [u, servers] of byUser) assert.equal(servers.size, 1, `${u} went to ${[...servers]}`);
  const all = new Set([...byUser.values()].flatMap((s) => [...s]));
  assert.ok(all.has("s1") || all.has("s2"));
});

test("the grpc-js-xds client's ACKs count in propagation: once it holds a change, its next call follows it", async () => {
  cp.store.put({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "echo", namespace: "default" }, spec: { host: "echo", subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] } } as IstioResource);
  setVirtualService([{ route: [{ destination: { host: "echo", subset: "v1" } }] }]);
  await new Promise((r) => setTimeout(r, 100));
  const go = join(dir, "go");
  let connected: () => void;
  const firstCall = new Promise<void>((r) => (connected = r));
  const run = calls([{}, { pauseUntil: go }, {}, {}], (out) => out.includes("\n") && connected());
  await firstCall;
  setVirtualService([{ route: [{ destination: { host: "echo", subset: "v2" } }] }]);
  const change = () => cp.ads.propagation.find("VirtualService", "default", "echo");
  for (let i = 0; i < 600 && change()?.state !== "DONE"; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(change()?.state, "DONE", JSON.stringify(change()));
  assert.deepEqual([change()!.proxies.affected, change()!.proxies.held], [1, 1]);
  writeFileSync(go, "");
  const res = await run;
  assert.deepEqual(res.map((r) => r.server), ["s1", "s2", "s2"]);
});
