// Istio's httpbin-based traffic tasks with their YAML applied through `trellis apply`: circuit breaking (the
// overflowing requests get 503 with the UO flag), mirroring (v1 answers, v2 gets a copy of each request marked
// -shadow), and retries with per-try timeouts (a flaky and a stalled first attempt both end in 200). Real sidecars
// connected to an in-process control plane, a small httpbin stand-in with Istio's labels and port 8000.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { ControlPlane } from "../../src/control/control-plane.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { freePort, sidecarBootstrap, until } from "./mesh-harness.js";

const execFileP = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "trellis-httpbin-"));
let cp: ControlPlane;
const proxies: RunningProxy[] = [];
const servers: Server[] = [];
let local = 0;
let clientAdmin = 0;

interface Httpbin {
  version: string;
  seen: Array<{ path: string; host: string }>;
  /** Answers each path: a status code and how long to wait first. */
  plan: (path: string, n: number) => { status: number; delayMs: number };
}
const bins: Httpbin[] = [];

function httpbin(version: string): Promise<{ bin: Httpbin; port: number }> {
  const bin: Httpbin = { version, seen: [], plan: () => ({ status: 200, delayMs: 0 }) };
  bins.push(bin);
  const counts = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res) => {
    const path = req.url ?? "/";
    bin.seen.push({ path, host: req.headers.host ?? "" });
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    const { status, delayMs } = bin.plan(path, n);
    const timer = setTimeout(() => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify({ version, path, attempt: n })); }, delayMs);
    res.on("close", () => clearTimeout(timer));
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ bin, port: (server.address() as { port: number }).port })));
}

async function apply(file: string): Promise<void> {
  await execFileP(process.execPath, ["dist/src/cli/main.js", "apply", "-f", file, "--control", `127.0.0.1:${cp.ports.api}`], { timeout: 20_000 });
}

async function remove(kind: string, name: string): Promise<void> {
  await execFileP(process.execPath, ["dist/src/cli/main.js", "delete", kind, name, "--control", `127.0.0.1:${cp.ports.api}`], { timeout: 20_000 }).catch(() => undefined);
}

async function get(path: string): Promise<{ status: number; body: string; overloaded: boolean; flags: string }> {
  const res = await fetch(`http://127.0.0.1:${local}${path}`, { signal: AbortSignal.timeout(20_000) });
  return { status: res.status, body: await res.text(), overloaded: res.headers.get("x-envoy-overloaded") === "true", flags: res.headers.get("x-trellis-flags") ?? "" };
}

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  local = await freePort();
  const meta = { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1" };
  for (const version of ["v1", "v2"]) {
    const { port } = await httpbin(version);
    const inbound = await freePort();
    proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, `httpbin-${version}`, { ...meta, SERVICE: "httpbin", SERVICE_ACCOUNT: "httpbin", LABELS: { app: "httpbin", version }, INBOUND_PORT: inbound, APP_PORT: port, SERVICE_PORTS: [{ port: 8000, name: "http", protocol: "HTTP" }] }), { adminPort: 0, drainTimeoutMs: 100 }));
  }
  clientAdmin = await freePort();
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "fortio-v1", { ...meta, SERVICE_ACCOUNT: "fortio", LABELS: { app: "fortio", version: "v1" }, UPSTREAMS: [{ host: "httpbin", port: 8000, localPort: local }], ADMIN_ADDRESS: `127.0.0.1:${clientAdmin}` }), { adminPort: clientAdmin, drainTimeoutMs: 100 }));
  await until("the mesh to reach httpbin", async () => (await get("/get").catch(() => ({ status: 0 }))).status === 200);
});

after(async () => {
  for (const p of proxies) await p.stop();
  await cp?.stop();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

test("circuit breaking: with one connection and one pending request, concurrent callers overflow with 503 UO", async () => {
  for (const b of bins) b.plan = () => ({ status: 200, delayMs: 100 });
  await apply("examples/istio/tasks/circuit-breaking/destination-rule-httpbin.yaml");
  try {
    // As the task's fortio run: concurrent requests against a pool of one connection and one waiting request.
    let results: Array<{ status: number; overloaded: boolean; body: string }> = [];
    await until("the breaker to trip", async () => {
      results = await Promise.all(Array.from({ length: 20 }, () => get("/get")));
      return results.some((r) => r.status === 503);
    }, 15_000);
    const ok = results.filter((r) => r.status === 200).length;
    const overflow = results.filter((r) => r.status === 503);
    assert.ok(ok >= 1, "some requests get through");
    assert.ok(overflow.length >= 1 && overflow.every((r) => r.overloaded), `the rest are refused by the breaker, marked x-envoy-overloaded: ${JSON.stringify(overflow.filter((r) => !r.overloaded))}`);
    const stats = await (await fetch(`http://127.0.0.1:${clientAdmin}/stats`)).text();
    assert.match(stats, /cluster\.outbound\|8000\|\|httpbin\.default\.svc\.cluster\.local\.upstream_rq_pending_overflow: [1-9]/);
    const metrics = await (await fetch(`http://127.0.0.1:${clientAdmin}/stats/prometheus`)).text();
    assert.match(metrics, /istio_requests_total\{reporter="source",[^}]*destination_service="httpbin\.default\.svc\.cluster\.local",[^}]*response_code="503",[^}]*response_flags="UO"/);
  } finally {
    await remove("destinationrule", "httpbin");
    for (const b of bins) b.plan = () => ({ status: 200, delayMs: 0 });
  }
  await until("the breaker to be gone", async () => (await Promise.all(Array.from({ length: 10 }, () => get("/get")))).every((r) => r.status === 200));
});

test("mirroring: v1 answers every request, v2 gets a copy with the -shadow host", async () => {
  await apply("examples/istio/tasks/mirroring/httpbin-all-v1.yaml");
  await until("everything on v1", async () => (await Promise.all(Array.from({ length: 6 }, () => get("/headers")))).every((r) => JSON.parse(r.body).version === "v1"));
  const [v1, v2] = bins;
  const before = { v1: v1.seen.length, v2: v2.seen.length };
  await apply("examples/istio/tasks/mirroring/httpbin-mirror-v2.yaml");
  await until("v2 to receive mirrored requests", async () => {
    const r = await get("/mirrored");
    assert.equal(JSON.parse(r.body).version, "v1", "the answer always comes from v1");
    return v2.seen.some((s) => s.path === "/mirrored");
  });
  for (let i = 0; i < 10; i++) assert.equal(JSON.parse((await get("/mirrored")).body).version, "v1");
  await until("each request to reach v2 as a copy", async () => v2.seen.filter((s) => s.path === "/mirrored").length >= 10);
  const copies = v2.seen.slice(before.v2).filter((s) => s.path === "/mirrored");
  // Envoy appends -shadow to the host (here the app's 127.0.0.1:PORT, as explicit mode's apps call their local port).
  assert.ok(copies.length > 0 && copies.every((s) => /-shadow(:\d+)?$/.test(s.host)), JSON.stringify(copies.slice(0, 3)));
  assert.ok(v1.seen.length - before.v1 >= 11);
  await remove("virtualservice", "httpbin");
  await remove("destinationrule", "httpbin");
});

test("retries with per-try timeouts: a 503 and a stalled attempt are retried into a 200", async () => {
  await apply("examples/istio/tasks/retries/httpbin-retries.yaml");
  try {
    // Every first attempt of a path fails, on whichever instance gets it.
    const seenPaths = new Set<string>();
    for (const b of bins) b.plan = (path) => {
      if (path.startsWith("/flaky") && !seenPaths.has(path)) { seenPaths.add(path); return { status: 503, delayMs: 0 }; }
      if (path.startsWith("/stall") && !seenPaths.has(path)) { seenPaths.add(path); return { status: 200, delayMs: 10_000 }; }
      return { status: 200, delayMs: 0 };
    };
    await until("the retry policy to arrive", async () => (await get(`/flaky/${Date.now()}`)).status === 200);
    for (let i = 0; i < 5; i++) assert.equal((await get(`/flaky/${i}`)).status, 200, "a 503 is retried");
    const started = Date.now();
    const stalled = await get("/stall/1");
    const took = Date.now() - started;
    assert.equal(stalled.status, 200, "the stalled attempt is cut at perTryTimeout and retried");
    assert.ok(took >= 1900 && took < 9000, `answered after the 2 s per-try timeout, not the 10 s stall (${took} ms)`);
    const stats = await (await fetch(`http://127.0.0.1:${clientAdmin}/stats`)).text();
    assert.match(stats, /cluster\.outbound\|8000\|\|httpbin\.default\.svc\.cluster\.local\.upstream_rq_retry: [1-9]/);
    assert.match(stats, /upstream_rq_per_try_timeout: [1-9]/);
  } finally {
    for (const b of bins) b.plan = () => ({ status: 200, delayMs: 0 });
    await remove("virtualservice", "httpbin");
  }
});
