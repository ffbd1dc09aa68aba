// A TCP service in the mesh, as Istio's tcp-echo tasks run it: sidecars with certificates from the real CA carry the
// stream over mutual TLS, exchange workload metadata, report Istio's TCP metrics on both sides, and enforce
// AuthorizationPolicy on the connection (network RBAC): allowed by principal, closed otherwise.
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { scopeFor } from "../fixtures/token-scope.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-tcp-mesh-"));
let cp: ControlPlane;
let echoServer: Server;
const proxies: RunningProxy[] = [];
let local = 0;
const admins: Record<string, number> = {};

/** Sends `text`, half-closes, and collects the answer; "closed" when the mesh cut the connection without one. */
function exchange(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port: local, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { s.destroy(); resolve("timeout"); }, 5_000);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(timer); resolve(chunks.length ? Buffer.concat(chunks).toString() : "closed"); });
    s.end(text);
  });
}

async function metrics(id: string): Promise<string> {
  return (await fetch(`http://127.0.0.1:${admins[id]}/stats/prometheus`)).text();
}

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

async function applyPolicy(spec: Record<string, unknown>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/security.istio.io/v1/namespaces/default/authorizationpolicies`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "tcp-echo", namespace: "default" }, spec }),
  });
  assert.equal(res.status, 201, await res.text());
}

async function deletePolicy(): Promise<void> {
  await fetch(`http://127.0.0.1:${cp.ports.api}/apis/security.istio.io/v1/namespaces/default/authorizationpolicies/tcp-echo`, { method: "DELETE" });
}

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, scrapeIntervalMs: 1000, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  echoServer = createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => s.end(`hello ${Buffer.concat(chunks).toString()}`));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => echoServer.listen(0, "127.0.0.1", r));
  const echoPort = (echoServer.address() as { port: number }).port;
  const tokens = TokenIssuer.open(join(dir, "state", "ca", "token-key"), "cluster.local");
  const rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
  local = await freePort();
  const inbound = await freePort();
  for (const [id, sa, m] of [
    ["tcp-echo-v1", "tcp-echo", { SERVICE: "tcp-echo", LABELS: { app: "tcp-echo", version: "v1" }, INBOUND_PORT: inbound, APP_PORT: echoPort, SERVICE_PORTS: [{ port: 9000, name: "tcp", protocol: "TCP" }] }],
    ["sleep-v1", "sleep", { LABELS: { app: "sleep", version: "v1" }, UPSTREAMS: [{ host: "tcp-echo", port: 9000, localPort: local }] }],
  ] as const) {
    const admin = await freePort();
    admins[id] = admin;
    const meta = { NAMESPACE: "default", SERVICE_ACCOUNT: sa, INSTANCE_IP: "127.0.0.1", MTLS_READY: true, ADMIN_ADDRESS: `127.0.0.1:${admin}`, ...m };
    proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, id, meta), { adminPort: admin, drainTimeoutMs: 100, ca: { address: `127.0.0.1:${cp.ports.ca}`, rootsPem, token: () => tokens.issue("default", sa, 600, Date.now(), scopeFor(sa, { version: "v1" })) } }));
  }
  await until("the mesh to carry TCP", async () => (await exchange("mesh")) === "hello mesh", 15_000);
});

after(async () => {
  for (const p of proxies) await p.stop();
  await cp?.stop();
  echoServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("TCP between sidecars is mutual TLS, and both sides report Istio's TCP metrics with full labels", async () => {
  assert.equal(await exchange("world"), "hello world");
  const src = await metrics("sleep-v1");
  const dst = await metrics("tcp-echo-v1");
  const peers = { source_workload: "sleep-v1", source_app: "sleep", destination_workload: "tcp-echo-v1", destination_app: "tcp-echo", destination_version: "v1", request_protocol: "tcp" };
  const source = { ...peers, reporter: "source", destination_service: "tcp-echo.default.svc.cluster.local" };
  // The destination learned the caller's workload over the connection and its principal from the certificate.
  const destination = { ...peers, reporter: "destination", source_principal: "spiffe://cluster.local/ns/default/sa/sleep", connection_security_policy: "mutual_tls" };
  for (const [text, labels] of [[src, source], [dst, destination]] as const) {
    assert.ok((sample(text, "istio_tcp_connections_opened_total", labels) ?? 0) >= 2, `opened ${JSON.stringify(labels)}\n${text}`);
    assert.ok((sample(text, "istio_tcp_connections_closed_total", labels) ?? 0) >= 2, "closed");
    // Each exchange sent "mesh"/"world" (4-5 bytes) and got "hello " back with it: sent counts the response direction.
    assert.ok((sample(text, "istio_tcp_received_bytes_total", labels) ?? 0) >= 9, "received bytes");
    assert.ok((sample(text, "istio_tcp_sent_bytes_total", labels) ?? 0) >= 21, "sent bytes");
  }
  assert.equal(sample(src, "istio_tcp_received_bytes_total", source), sample(dst, "istio_tcp_received_bytes_total", destination), "both sides count the same request bytes");
  // The embedded store scrapes them: the mesh graph has the TCP edge with its throughput.
  interface Edge { id: string; protocol: string; tcpBytesPerSec: number }
  let edge: Edge | undefined;
  await until("the graph to show the TCP edge", async () => {
    await exchange("graph");
    const graph = (await (await fetch(`http://127.0.0.1:${cp.ports.api}/api/v1/telemetry/graph?window=1m&namespaces=default&graphType=workload`)).json()) as { edges: Edge[] };
    edge = graph.edges.find((e) => e.id === "default/workload/sleep-v1->default/service/tcp-echo");
    return (edge?.tcpBytesPerSec ?? 0) > 0;
  }, 15_000);
  assert.equal(edge!.protocol, "tcp");
});

test("AuthorizationPolicy on a TCP port: ALLOW by principal lets the caller in, others are cut off", async () => {
  await applyPolicy({ selector: { matchLabels: { app: "tcp-echo" } }, action: "ALLOW", rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }] }] });
  try {
    await until("the ALLOW policy to close sleep's connections", async () => (await exchange("x")) === "closed");
    assert.match(await (await fetch(`http://127.0.0.1:${admins["tcp-echo-v1"]}/stats`)).text(), /tcp\.rbac\.denied: [1-9]/);
    await deletePolicy();
    await applyPolicy({ selector: { matchLabels: { app: "tcp-echo" } }, action: "ALLOW", rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/sleep"] } }] }] });
    await until("sleep's principal to be allowed", async () => (await exchange("again")) === "hello again");
    // A rule with an HTTP-only field (methods) allows no TCP connection, as in Istio.
    await deletePolicy();
    await applyPolicy({ selector: { matchLabels: { app: "tcp-echo" } }, action: "ALLOW", rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/sleep"] } }], to: [{ operation: { methods: ["GET"] } }] }] });
    await until("an HTTP-only ALLOW rule to deny TCP", async () => (await exchange("y")) === "closed");
  } finally {
    await deletePolicy();
  }
  await until("no policy to allow again", async () => (await exchange("z")) === "hello z");
});
