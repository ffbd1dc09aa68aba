// Issue #25 item 1, replayed against a running control plane and a real sidecar: a workload holding its own token
// (ratings) tries to register as another service (details), to claim a gateway's labels, and to reuse the real
// details sidecar's node id. Each is refused with a status and a message that say why; the real sidecar keeps its
// registration and its inbound listener. The same identity may replace its own stream; a revoked token and an
// over-long one are refused.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";
import { probeAds } from "../fixtures/ads-probe.js";
import { scopeFor } from "../fixtures/token-scope.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-takeover-"));
const state = join(dir, "state");
let cp: ControlPlane;
let tokens: TokenIssuer;
let rootsPem: string;
let details: RunningProxy;
const logs: string[] = [];
const DETAILS_ID = "details-v1.default";
const detailsMeta = (inbound: number) => ({ NAMESPACE: "default", SERVICE_ACCOUNT: "details", SERVICE: "details", LABELS: { app: "details", version: "v1" }, INSTANCE_IP: "127.0.0.1", INBOUND_PORT: inbound, APP_PORT: 1, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }], MTLS_READY: true });
let detailsInbound = 0;

before(async () => {
  cp = new ControlPlane({ stateDir: state, xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: (l) => logs.push(l) });
  await cp.start();
  tokens = TokenIssuer.open(join(state, "ca", "token-key"), "cluster.local");
  rootsPem = readFileSync(join(state, "ca", "root-cert.pem"), "utf8");
  detailsInbound = await freePort();
  details = await startProxy(sidecarBootstrap(cp.ports.xds, DETAILS_ID, detailsMeta(detailsInbound)), {
    adminPort: 0, drainTimeoutMs: 100, ca: { address: `127.0.0.1:${cp.ports.ca}`, rootsPem, token: () => tokens.issue("default", "details", 600, Date.now(), scopeFor("details", { version: "v1" })) },
  });
  await until("the details sidecar to sync", async () => details.ready(), 20_000);
});

after(async () => {
  await details?.stop();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ratingsToken = () => tokens.issue("default", "ratings", 600, Date.now(), scopeFor("ratings", { version: "v1" }));
const ratingsMeta = { NAMESPACE: "default", SERVICE_ACCOUNT: "ratings", SERVICE: "ratings", LABELS: { app: "ratings", version: "v1" }, INSTANCE_IP: "127.0.0.1", INBOUND_PORT: 1, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] };
const tls = () => ({ rootsPem });

function detailsEndpoints(): Array<{ id: string; port: number }> {
  return cp.registry.list().filter((w) => w.service === "details").map((w) => ({ id: w.id, port: w.inboundPort }));
}

test("a ratings token cannot register as details, by SERVICE or by the app label, nor claim a gateway's labels", async () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["SERVICE details", { ...ratingsMeta, SERVICE: "details", LABELS: { app: "details", version: "v1" } }, /claims service details but its token allows only service ratings/],
    ["app label details", { ...ratingsMeta, SERVICE: undefined, LABELS: { app: "details", version: "v1" } }, /claims service details/],
    ["a gateway's label", { ...ratingsMeta, LABELS: { app: "ratings", version: "v1", istio: "ingressgateway" } }, /claims label istio=ingressgateway but its token does not allow label istio/],
    ["another version", { ...ratingsMeta, LABELS: { app: "ratings", version: "v2" } }, /claims label version=v2 but its token allows version=v1/],
  ];
  for (const [name, meta, message] of cases) {
    const id = `impostor-${name.replace(/\W+/g, "-")}.default`;
    const r = await probeAds(`127.0.0.1:${cp.ports.ca}`, id, meta, { token: ratingsToken(), ...tls() });
    assert.equal(r.ok, false, name);
    if (r.ok) continue;
    assert.equal(r.code, grpc.status.PERMISSION_DENIED, `${name}: ${r.details}`);
    assert.match(r.details, message, name);
    assert.ok(!cp.registry.list().some((w) => w.id === id), `${name} registers nothing`);
  }
  assert.deepEqual(detailsEndpoints(), [{ id: DETAILS_ID, port: detailsInbound }], "details has only its real endpoint");
  const own = await probeAds(`127.0.0.1:${cp.ports.ca}`, "ratings-v1.default", ratingsMeta, { token: ratingsToken(), ...tls() });
  assert.equal(own.ok, true, "ratings registering as itself is served");
});

test("reusing the real details sidecar's node id from another identity is refused; the real sidecar keeps its endpoint and listener", async () => {
  const r = await probeAds(`127.0.0.1:${cp.ports.ca}`, DETAILS_ID, { ...ratingsMeta, INBOUND_PORT: 2 }, { token: ratingsToken(), ...tls() });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, grpc.status.ALREADY_EXISTS, !r.ok ? r.details : "");
  assert.match(!r.ok ? r.details : "", /node id details-v1.default is held by a stream of spiffe:\/\/cluster.local\/ns\/default\/sa\/details/);
  // Past the registry's removal grace period (5 s), the real endpoint is still there and the sidecar still serves.
  await new Promise((res) => setTimeout(res, 6000));
  assert.deepEqual(detailsEndpoints(), [{ id: DETAILS_ID, port: detailsInbound }]);
  assert.equal(cp.ads.proxies().filter((p) => p.node.id === DETAILS_ID).length, 1, "one stream holds the id");
  const listeners = await fetch(`http://127.0.0.1:${details.adminPort}/config_dump?resource=dynamic_listeners`).then((x) => x.text());
  assert.match(listeners, /inbound/i, "the real sidecar still has its inbound listener");
});

test("the same identity may replace its own stream (a sidecar reconnecting)", async () => {
  const token = tokens.issue("default", "details", 600, Date.now(), scopeFor("details", { version: "v1" }));
  const r = await probeAds(`127.0.0.1:${cp.ports.ca}`, DETAILS_ID, detailsMeta(detailsInbound), { token, ...tls() });
  assert.equal(r.ok, true, !r.ok ? r.details : "");
});

test("a revoked token (trellis token revoke) and a token over the 24 h cap are refused", async () => {
  const token = ratingsToken();
  const file = join(dir, "ratings.token");
  writeFileSync(file, token + "\n", { mode: 0o600 });
  assert.equal((await probeAds(`127.0.0.1:${cp.ports.ca}`, "ratings-a.default", ratingsMeta, { token, ...tls() })).ok, true, "served before revocation");
  const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", "token", ...args], { encoding: "utf8" });
  const revoked = cli("revoke", file, "--state-dir", state);
  assert.equal(revoked.status, 0, revoked.stderr);
  const r = await probeAds(`127.0.0.1:${cp.ports.ca}`, "ratings-b.default", ratingsMeta, { token, ...tls() });
  assert.equal(!r.ok && r.code, grpc.status.UNAUTHENTICATED);
  assert.match(!r.ok ? r.details : "", /was revoked/);
  const long = cli("create", "-n", "default", "--service-account", "ratings", "--ttl", "48h", "--state-dir", state);
  assert.equal(long.status, 1);
  assert.match(long.stderr, /over the cap of 86400 s/);
  assert.throws(() => tokens.issue("default", "ratings", 7 * 86400), /over the cap/);
});

test("a token naming a WorkloadEntry may register only that entry's service and labels, read when it connects", async () => {
  cp.store.put({ apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry", metadata: { name: "ratings-vm", namespace: "default" }, spec: { address: "127.0.0.1", labels: { app: "ratings", version: "v3" }, serviceAccount: "ratings" } });
  const token = tokens.issue("default", "ratings", 600, Date.now(), { workloadEntry: "ratings-vm" });
  const vm = { ...ratingsMeta, LABELS: { app: "ratings", version: "v3" } };
  assert.equal((await probeAds(`127.0.0.1:${cp.ports.ca}`, "ratings-vm.default", vm, { token, ...tls() })).ok, true, "the entry's own service and labels");
  const asDetails = await probeAds(`127.0.0.1:${cp.ports.ca}`, "vm-as-details.default", { ...vm, SERVICE: "details", LABELS: { app: "details" } }, { token, ...tls() });
  assert.match(!asDetails.ok ? asDetails.details : "served", /claims service details but its token allows only service ratings/);
  const missing = await probeAds(`127.0.0.1:${cp.ports.ca}`, "vm-missing.default", vm, { token: tokens.issue("default", "ratings", 600, Date.now(), { workloadEntry: "nope" }), ...tls() });
  assert.match(!missing.ok ? missing.details : "served", /names WorkloadEntry default\/nope, which does not exist/);
});
