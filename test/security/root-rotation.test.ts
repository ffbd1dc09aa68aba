// Rotating the mesh's root without dropping a connection, as Istio's root rotation runs: start (a new root signs,
// every proxy is pushed a bundle that trusts both and renews its certificate from the new root on its own), then
// finish (the old root is dropped once every proxy holds a new-root certificate). A response streaming over mutual
// TLS through the whole change arrives whole; a sidecar started afterwards trusts only the new root and joins; a
// certificate from the old root is refused once it is dropped.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { CaClient, type WorkloadCertificate } from "../../src/identity/ca-client.js";
import { scopeFor } from "../fixtures/token-scope.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import type { Backend } from "../proxy/harness.js";
import { streamingApp } from "../fixtures/streaming-app.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";
import { mtlsRequest } from "../fixtures/mtls-request.js";

const CLI = join(import.meta.dirname, "../../src/cli/main.js");
const dir = mkdtempSync(join(tmpdir(), "trellis-root-rotation-"));
const state = join(dir, "state");
let cp: ControlPlane;
let app: Backend;
let tokens: TokenIssuer;
const proxies: RunningProxy[] = [];
const admins: Record<string, number> = {};
let local = 0;
let inbound = 0;
const CHUNKS = 40;
const logs: string[] = [];

const meta = { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1", MTLS_READY: true };

function caOption(sa: string, version = "v1") {
  return { address: `127.0.0.1:${cp.ports.ca}`, rootsPem: readFileSync(join(state, "ca", "root-cert.pem"), "utf8"), token: () => tokens.issue("default", sa, 600, Date.now(), scopeFor(sa, { version })) };
}

async function client(id: string, port: number): Promise<void> {
  admins[id] = await freePort();
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, id, { ...meta, SERVICE_ACCOUNT: "productpage", LABELS: { app: "productpage", version: id }, UPSTREAMS: [{ host: "reviews", port: 9080, localPort: port }], ADMIN_ADDRESS: `127.0.0.1:${admins[id]}` }), { adminPort: admins[id], drainTimeoutMs: 100, ca: caOption("productpage", id) }));
}

before(async () => {
  cp = new ControlPlane({ stateDir: state, xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: (l) => logs.push(l) });
  await cp.start();
  tokens = TokenIssuer.open(join(state, "ca", "token-key"), "cluster.local");
  // /stream sends a line every 200 ms for eight seconds.
  app = await streamingApp(CHUNKS);
  inbound = await freePort();
  admins["reviews-v1"] = await freePort();
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "reviews-v1", { ...meta, SERVICE: "reviews", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v1" }, INBOUND_PORT: inbound, APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }], ADMIN_ADDRESS: `127.0.0.1:${admins["reviews-v1"]}` }), { adminPort: admins["reviews-v1"], drainTimeoutMs: 100, ca: caOption("reviews") }));
  local = await freePort();
  await client("productpage-v1", local);
  await until("the mesh to serve over mTLS", async () => (await fetch(`http://127.0.0.1:${local}/ok`).then((r) => r.status, () => 0)) === 200, 15_000);
});

after(async () => {
  for (const p of proxies) await p.stop();
  await cp?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface CaState { rotating: boolean; roots: Array<{ sha256: string; signing: boolean }> }

async function rotation(action: "start" | "finish", force = false): Promise<{ status: number; body: CaState & { message?: string } }> {
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/api/v1/ca/root-rotation`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action, ...(force ? { force } : {}) }) });
  return { status: res.status, body: (await res.json()) as CaState & { message?: string } };
}

async function issuerRoot(id: string): Promise<string | undefined> {
  const certs = (await (await fetch(`http://127.0.0.1:${admins[id]}/certs`)).json()) as { certificates: Array<{ name: string; issuer_root_sha256?: string }> };
  return certs.certificates.find((c) => c.name === "default")?.issuer_root_sha256;
}

/** A request on a fresh mutual-TLS connection to the server sidecar's inbound port, presenting `cert`. */
function directRequest(cert: WorkloadCertificate): Promise<string> {
  return mtlsRequest(inbound, { cert: cert.certChainPem, key: cert.keyPem, ca: cert.rootsPem });
}

async function workloadCert(): Promise<WorkloadCertificate> {
  const c = new CaClient({ ...caOption("productpage"), caRootsPem: readFileSync(join(state, "ca", "root-cert.pem"), "utf8"), identity: { trustDomain: "cluster.local", namespace: "default", serviceAccount: "productpage" } });
  try {
    return await c.request();
  } finally {
    c.close();
  }
}

test("the root rotates while a response streams over mTLS; proxies renew on their own; the old root is then refused", async () => {
  const oldRoot = new X509Certificate(readFileSync(join(state, "ca", "root-cert.pem"), "utf8")).fingerprint256;
  const oldCert = await workloadCert();
  assert.equal((await rotation("finish")).status, 409, "nothing to finish before a rotation starts");

  const res = await fetch(`http://127.0.0.1:${local}/stream`);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = "";
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      text += Buffer.from(value).toString();
    }
  })();

  const started = await rotation("start");
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assert.equal(started.body.rotating, true);
  assert.equal(started.body.roots.length, 2);
  const newRoot = started.body.roots[0].sha256;
  assert.notEqual(newRoot, oldRoot);
  assert.equal(started.body.roots[1].sha256, oldRoot, "the old root stays trusted during the change");
  assert.equal((await rotation("start")).status, 409, "one rotation at a time");

  // The pushed bundle makes every proxy renew from the new root, without being told otherwise.
  await until("both proxies to hold new-root certificates", async () => (await issuerRoot("reviews-v1")) === newRoot && (await issuerRoot("productpage-v1")) === newRoot, 15_000).catch(async (e: Error) => { throw new Error(`${e.message}: new ${newRoot}, reviews ${await issuerRoot("reviews-v1")}, productpage ${await issuerRoot("productpage-v1")}; ${JSON.stringify(cp.ads.proxies().map((p) => p.types))}`); });
  assert.equal((await fetch(`http://127.0.0.1:${local}/ok`)).status, 200, "traffic flows mid-rotation");

  const finished = await rotation("finish");
  assert.equal(finished.status, 200, JSON.stringify(finished.body));
  assert.deepEqual(finished.body.roots.map((r) => r.sha256), [newRoot]);
  assert.ok(logs.some((l) => l.includes("root rotation finished")), logs.join("\n"));

  // A sidecar started now trusts only the new root (the state dir's bundle) and joins: the control plane's own
  // certificate moved to the new root too. Its connections to the server are new handshakes under the new root.
  const local2 = await freePort();
  await client("productpage-v2", local2);
  await until("a sidecar started after the rotation to serve", async () => (await fetch(`http://127.0.0.1:${local2}/ok`).then((r) => r.status, () => 0)) === 200, 15_000);
  assert.equal(new X509Certificate(readFileSync(join(state, "ca", "root-cert.pem"), "utf8")).fingerprint256, newRoot);

  await reading;
  assert.equal(text.split("\n").filter(Boolean).length, CHUNKS, "the stream opened before the rotation arrived whole");

  // Once dropped, the old root's certificates are refused; a new-root one is served.
  assert.match(await directRequest(await workloadCert()), /^HTTP\/1\.1 200/);
  assert.doesNotMatch(await directRequest(oldCert), /^HTTP\/1\.1 200/);

  const { stdout } = await promisify(execFile)(process.execPath, [CLI, "ca", "status", "--control", `127.0.0.1:${cp.ports.api}`]);
  assert.match(stdout, new RegExp(`signing\\s+${newRoot}`));
  assert.doesNotMatch(stdout, /rotation under way/);
});
