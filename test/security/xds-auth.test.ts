// Registering with the control plane is authenticated once it runs a CA: an xDS stream proves its identity with the
// bootstrap token (over TLS on the CA port, or on the loopback plaintext port), and its node must claim that same
// namespace and service account. A stream without a token, with a bad one, or claiming someone else is refused with
// a status and a message that say why, is logged, and registers nothing.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { xdsAuthorizer } from "../../src/control/ca/xds-auth.js";
import { adsService, jsonToStruct, type DiscoveryRequest, type DiscoveryResponse } from "../../src/xds/ads-service.js";
import { TYPE_URL } from "../../src/xds/resource.js";
import type { StreamVerdict } from "../../src/xds/ads-server.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { parseMessage } from "../../src/xds/resource.js";
import type { Bootstrap__Output } from "../../src/xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import { sidecarBootstrap as workloadBootstrap } from "../../src/universal/workload-spec.js";
import { freePort, until } from "../control/mesh-harness.js";
import { scopeFor } from "../fixtures/token-scope.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-xds-auth-"));
let cp: ControlPlane;
let tokens: TokenIssuer;
let rootsPem: string;
const logs: string[] = [];
const running: RunningProxy[] = [];

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: (l) => logs.push(l) });
  await cp.start();
  tokens = TokenIssuer.open(join(dir, "state", "ca", "token-key"), "cluster.local");
  rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
});

after(async () => {
  for (const p of running) await p.stop();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a real ADS stream, sends one CDS request as `meta`'s node, and reports the first response or the error. */
function openStream(port: number, meta: Record<string, unknown>, opts: { token?: string; tls?: boolean; id?: string } = {}): Promise<{ ok: true } | { ok: false; code: number; details: string }> {
  const Client = adsService();
  const creds = opts.tls ? grpc.credentials.createSsl(Buffer.from(rootsPem)) : grpc.credentials.createInsecure();
  const client = new Client(`127.0.0.1:${port}`, creds, opts.tls ? { "grpc.ssl_target_name_override": "istiod.istio-system.svc" } : {});
  const md = new grpc.Metadata();
  if (opts.token) md.set("authorization", `Bearer ${opts.token}`);
  const call = (client as unknown as { StreamAggregatedResources(md: grpc.Metadata): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamAggregatedResources(md);
  return new Promise((resolve) => {
    const done = (v: { ok: true } | { ok: false; code: number; details: string }) => { clearTimeout(timer); call.cancel(); client.close(); resolve(v); };
    const timer = setTimeout(() => done({ ok: false, code: -1, details: "no answer in 5 s" }), 5000);
    call.on("data", () => done({ ok: true }));
    call.on("error", (e: grpc.ServiceError) => done({ ok: false, code: e.code, details: e.details }));
    call.write({ version_info: "", node: { id: opts.id ?? "probe.default", cluster: "probe", metadata: jsonToStruct(meta), user_agent_name: "test", locality: null }, resource_names: [], type_url: TYPE_URL.cluster, response_nonce: "", error_detail: null });
  });
}

const REVIEWS = scopeFor("reviews", { version: "v1" });
const META = { NAMESPACE: "default", SERVICE_ACCOUNT: "reviews", SERVICE: "reviews", LABELS: { app: "reviews", version: "v1" }, INSTANCE_IP: "127.0.0.1", INBOUND_PORT: 19080, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] };

function registered(id: string): boolean {
  return cp.registry.list().some((w) => w.id === id);
}

test("a stream with its own token is served, on the TLS port and on loopback plaintext", async () => {
  assert.deepEqual(await openStream(cp.ports.ca, META, { tls: true, token: tokens.issue("default", "reviews", 600, Date.now(), REVIEWS), id: "tls.default" }), { ok: true });
  assert.deepEqual(await openStream(cp.ports.xds, META, { token: tokens.issue("default", "reviews", 600, Date.now(), REVIEWS), id: "plain.default" }), { ok: true });
});

test("no token, a forged or expired token, and a token for another identity are refused and register nothing", async () => {
  const cases: Array<[string, { token?: string; tls?: boolean }, number, RegExp]> = [
    ["no token (TLS)", { tls: true }, grpc.status.UNAUTHENTICATED, /sent no bootstrap token.*authorization: Bearer/],
    ["no token (plaintext)", {}, grpc.status.UNAUTHENTICATED, /sent no bootstrap token/],
    ["forged", { tls: true, token: tokens.issue("default", "reviews", 600, Date.now(), REVIEWS).slice(0, -4) + "AAAA" }, grpc.status.UNAUTHENTICATED, /signature is not valid/],
    ["expired", { tls: true, token: tokens.issue("default", "reviews", 1, Date.now() - 10_000) }, grpc.status.UNAUTHENTICATED, /expired/],
    ["another service account", { tls: true, token: tokens.issue("default", "ratings", 600) }, grpc.status.PERMISSION_DENIED, /claims namespace default and service account reviews but its token proves default\/ratings/],
    ["another namespace", { tls: true, token: tokens.issue("other", "reviews", 600) }, grpc.status.PERMISSION_DENIED, /token proves other\/reviews/],
  ];
  for (const [name, opts, code, message] of cases) {
    const id = `impostor-${name.replace(/\W+/g, "-")}.default`;
    logs.length = 0;
    const r = await openStream(opts.tls ? cp.ports.ca : cp.ports.xds, META, { ...opts, id });
    assert.equal(r.ok, false, name);
    if (r.ok) continue;
    assert.equal(r.code, code, `${name}: ${r.details}`);
    assert.match(r.details, message, name);
    assert.ok(logs.some((l) => l.includes("refusing xDS stream") && message.test(l)), `${name} is logged: ${logs.join("\n")}`);
    assert.ok(!logs.some((l) => /eyJ[\w-]+\.eyJ/.test(l)), "the token itself is never logged");
    assert.equal(registered(id), false, `${name} registers nothing`);
  }
});

test("plaintext xDS is refused to peers off loopback", () => {
  const authorize = xdsAuthorizer(undefined) as (ctx: Parameters<ReturnType<typeof xdsAuthorizer>>[0]) => StreamVerdict;
  const node = { id: "x.default", cluster: "x", metadata: {}, userAgentName: "" };
  const remote = authorize({ node, metadata: new grpc.Metadata(), secure: false, peerAddress: "10.1.2.3:40000" });
  assert.equal(remote.ok, false);
  assert.match(!remote.ok ? remote.message : "", /loopback peers only.*TLS/);
  for (const peer of ["127.0.0.1:40000", "[::1]:40000"]) assert.deepEqual(authorize({ node, metadata: new grpc.Metadata(), secure: false, peerAddress: peer }), { ok: true });
  assert.deepEqual(authorize({ node, metadata: new grpc.Metadata(), secure: true, peerAddress: "10.1.2.3:40000" }), { ok: true });
});

test("a sidecar as trellis run configures it: certificate first, then ADS over TLS with its token; a metadata claim cannot turn mutual TLS off", async () => {
  const spec = { service: "reviews", namespace: "default", labels: { version: "v2" }, serviceAccount: "reviews", servicePort: 9080, protocol: "HTTP", upstreams: [], xdsAddress: "127.0.0.1:1" };
  const rootsFile = join(dir, "state", "ca", "root-cert.pem");
  const raw = workloadBootstrap(spec, { app: await freePort(), inbound: await freePort(), admin: await freePort(), readiness: 0, stats: 0 }, "reviews-v2.default", { address: `127.0.0.1:${cp.ports.ca}`, rootsFile }) as { node: { metadata: Record<string, unknown> } };
  raw.node.metadata.MTLS_READY = false;
  const b = parseMessage<Bootstrap__Output>("envoy.config.bootstrap.v3.Bootstrap", raw);
  assert.ok(b.ok, JSON.stringify(!b.ok && b.errors));
  const p = await startProxy(b.value, { adminPort: 0, drainTimeoutMs: 100, ca: { address: `127.0.0.1:${cp.ports.ca}`, rootsPem, token: () => tokens.issue("default", "reviews", 600, Date.now(), scopeFor("reviews", { version: "v2" })) } });
  running.push(p);
  await until("the sidecar to sync", async () => p.ready(), 10_000).catch((e: Error) => { throw new Error(`${e.message}; control plane said: ${logs.join("\n")}; proxies: ${JSON.stringify(cp.ads.proxies())}`); });
  const proxy = cp.ads.proxies().find((x) => x.node.id === "reviews-v2.default");
  assert.ok(proxy, "connected");
  assert.equal(proxy.secure, true, "over TLS");
  assert.equal(proxy.identity, "spiffe://cluster.local/ns/default/sa/reviews");
  const w = cp.registry.list().find((x) => x.id === "reviews-v2.default");
  assert.equal(w?.mtls, true, "an authenticated sidecar holds a certificate whatever MTLS_READY says");
});
