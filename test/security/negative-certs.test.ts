// What a sidecar refuses, each refusal with a log line naming the peer, the listener or cluster, and the reason. The
// proxy runs as its own process (`trellis proxy --bootstrap`, its stderr read as an operator would) from a static
// bootstrap holding Istio's TLS contexts as the control plane translates them (src/control/translate/mtls.ts), with
// the SDS secrets inlined. Inbound (STRICT mTLS): a mesh certificate is served; another CA's certificate with the same
// SPIFFE ID, an expired one from the mesh's CA, and none at all are refused. Outbound (ISTIO_MUTUAL): a host presenting
// another CA's certificate or an expired one gets no request; the caller gets 503 with response flag UF.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { inboundChains, upstreamTransport } from "../../src/control/translate/mtls.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { createCsr, generateKeyPair, signLeaf } from "../../src/identity/x509.js";
import { backend, get, HCM, ROUTER, staticCluster, type Backend } from "../proxy/harness.js";
import { stopProcesses } from "../fixtures/cli-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Pem { cert: string; key: string }

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "trellis-negative-certs-"));
const id = (sa: string) => `spiffe://cluster.local/ns/default/sa/${sa}`;
const HOUR = 3600_000;
const cleanup: Array<() => unknown> = [];
let mesh: CertificateAuthority;
let other: CertificateAuthority;
let app: Backend;
let child: ChildProcess;
let stderr = "";
let stdout = "";
let inboundPort = 0;
let outboundPort = 0;
/** Upstream hosts (sidecars of "ratings"), each presenting a certificate of its own. */
const upstreams: Record<string, { server: Http2SecureServer; port: number; connections: number; handshakes: number; requests: number; httpVersion?: string }> = {};

/** A workload certificate from the mesh CA through its CSR path. */
async function meshCert(sa: string): Promise<Pem> {
  const keys = await generateKeyPair();
  const chain = await mesh.sign(await createCsr(keys, [id(sa)]), { trustDomain: "cluster.local", namespace: "default", serviceAccount: sa });
  return { cert: chain[0], key: keys.keyPem };
}

/** A certificate signed directly: by another CA, or by the mesh CA with a lifetime already over. */
async function signed(ca: CertificateAuthority, sa: string, opts: { expired?: boolean; withRoot?: boolean } = {}): Promise<Pem> {
  const keys = await generateKeyPair();
  const cert = await signLeaf({ publicKey: keys.publicKey, uris: [id(sa)], lifetimeMs: HOUR, notBefore: opts.expired ? new Date(Date.now() - 2 * HOUR) : undefined, ...ca.signer() });
  return { cert: opts.withRoot ? cert + ca.rootsPem() : cert, key: keys.keyPem };
}

/** Istio's transport socket with its SDS secrets ("default", "ROOTCA") replaced by inline PEM. */
function inlineSecrets(socket: Json, own: Pem, rootPem: string): Json {
  const s = structuredClone(socket);
  const ctx = s.typed_config.common_tls_context;
  assert.deepEqual(ctx.tls_certificate_sds_secret_configs.map((c: Json) => c.name), ["default"]);
  delete ctx.tls_certificate_sds_secret_configs;
  ctx.tls_certificates = [{ certificate_chain: { inline_string: own.cert }, private_key: { inline_string: own.key } }];
  if (ctx.validation_context_sds_secret_config) {
    delete ctx.validation_context_sds_secret_config;
    ctx.validation_context = { trusted_ca: { inline_string: rootPem } };
  } else {
    // Envoy requires the SDS half of a combined context: the default half (the SAN matchers) with the root inlined.
    ctx.validation_context = { ...ctx.combined_validation_context.default_validation_context, trusted_ca: { inline_string: rootPem } };
    delete ctx.combined_validation_context;
  }
  return s;
}

const ACCESS_LOG = [{ name: "envoy.access_loggers.file", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: "/dev/stdout" } }];
const OUTBOUND = (host: string) => `outbound|9080||${host}.default.svc.cluster.local`;

async function upstream(name: string, pem: Pem): Promise<void> {
  const u = { connections: 0, handshakes: 0, requests: 0 } as (typeof upstreams)[string];
  // A sidecar's inbound side (HTTP/2 and HTTP/1.1): it would also require the caller's mesh certificate.
  u.server = createSecureServer({ ...pem, ca: mesh.rootsPem(), requestCert: true, rejectUnauthorized: true, allowHTTP1: true }, (req, res) => {
    u.requests++;
    u.httpVersion = req.httpVersion;
    res.end(`ratings ${name}`);
  });
  u.server.on("connection", () => u.connections++);
  u.server.on("secureConnection", () => u.handshakes++);
  await new Promise<void>((r) => u.server.listen(0, "127.0.0.1", r));
  u.port = (u.server.address() as AddressInfo).port;
  upstreams[name] = u;
  const sockets = new Set<import("node:net").Socket>();
  u.server.on("connection", (c: import("node:net").Socket) => { sockets.add(c); c.once("close", () => sockets.delete(c)); });
  cleanup.push(() => new Promise((r) => { for (const c of sockets) c.destroy(); u.server.close(r); }));
}

before(async () => {
  mesh = await CertificateAuthority.open({ dir: join(dir, "mesh-ca") });
  other = await CertificateAuthority.open({ dir: join(dir, "other-ca") });
  app = await backend((_req, res) => res.end("reviews"));
  cleanup.push(() => app.close());
  await upstream("good", await meshCert("ratings"));
  // Another CA's certificate for the very SPIFFE ID expected, sent with that CA's root as a real peer would.
  await upstream("other-ca", await signed(other, "ratings", { withRoot: true }));
  await upstream("expired", await signed(mesh, "ratings", { expired: true }));

  const self = await meshCert("reviews");
  const ratings = { namespace: "default", serviceAccount: "ratings", mtls: true } as Workload;
  const outboundCluster = (host: string, extra: Json = {}) => staticCluster(OUTBOUND(host), [upstreams[host].port], {
    transport_socket: inlineSecrets(upstreamTransport("ISTIO_MUTUAL", [ratings], `${host}.default.svc.cluster.local`, 9080, extra.http2_protocol_options ? "h2" : "http").transport_socket as Json, self, mesh.rootsPem()),
    ...extra,
  });
  const h2Cluster = (host: string) => ({ ...outboundCluster(host, { http2_protocol_options: {} }), name: OUTBOUND(`${host}-h2`),
    load_assignment: { cluster_name: OUTBOUND(`${host}-h2`), endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: upstreams[host].port } } } }] }] } });
  const inboundFilters = [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: "inbound_0.0.0.0_9080", access_log: ACCESS_LOG,
    route_config: { virtual_hosts: [{ name: "inbound|http|9080", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "inbound|9080||" } }] }] }, http_filters: [ROUTER] } }];
  const chains = inboundChains("STRICT", true, inboundFilters).map((c) => ({ ...c, transport_socket: inlineSecrets(c.transport_socket as Json, self, mesh.rootsPem()) }));
  const route = (prefix: string, host: string) => ({ match: { prefix }, route: { cluster: OUTBOUND(host) } });
  const bootstrap = {
    node: { id: "reviews-v1.default", cluster: "reviews" },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [
        { name: "virtualInbound", address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: chains },
        { name: "outbound-ratings", address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: "outbound_0.0.0.0_9080", access_log: ACCESS_LOG,
          route_config: { virtual_hosts: [{ name: "ratings", domains: ["*"], routes: [route("/good-h2", "good-h2"), route("/good", "good"), route("/other-ca", "other-ca"), route("/expired-h2", "expired-h2"), route("/expired", "expired")] }] }, http_filters: [ROUTER] } }] }] },
      ],
      clusters: [
        staticCluster("inbound|9080||", [app.port]),
        outboundCluster("good"), outboundCluster("other-ca"), outboundCluster("expired"),
        // The good and the expired host reached over HTTP/2 too (its own connection path in the proxy).
        h2Cluster("good"), h2Cluster("expired"),
      ],
    },
  };
  const file = join(dir, "bootstrap.json");
  writeFileSync(file, JSON.stringify(bootstrap));
  child = spawn(process.execPath, [MAIN, "proxy", "--bootstrap", file, "--drain-timeout", "0.2"], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => (stdout += d));
  child.stderr!.on("data", (d: Buffer) => (stderr += d));
  const up = await waitFor(() => /listeners: (.*)/.exec(stderr)?.[1], 10_000, "the proxy to start");
  inboundPort = Number(/virtualInbound=127\.0\.0\.1:(\d+)/.exec(up)![1]);
  outboundPort = Number(/outbound-ratings=127\.0\.0\.1:(\d+)/.exec(up)![1]);
});

after(async () => {
  if (child) await stopProcesses([child]);
  for (const c of cleanup) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${child.exitCode !== null ? `the proxy exited (${child.exitCode})` : "timed out"} waiting for ${what}; proxy stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The proxy's log lines that mention `text` (and `also`, if given): waits up to 3 s for the first, else fails. */
async function linesAbout(text: string, also = ""): Promise<string[]> {
  const matching = () => stderr.split("\n").filter((l) => l.includes(text) && l.includes(also));
  await waitFor(() => matching().length > 0, 3000, `a log line about ${text} ${also}`);
  return matching();
}

/** One request over a fresh mutual-TLS connection to the inbound listener, as a peer sidecar dials it. */
function inbound(pem?: Pem): Promise<{ reply: string; peer: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port: inboundPort, ...pem, ca: mesh.rootsPem(), checkServerIdentity: () => undefined, ALPNProtocols: ["http/1.1"] });
    let peer = "";
    let reply = "";
    const timer = setTimeout(() => s.destroy(), 5000);
    s.once("connect", () => (peer = `127.0.0.1:${s.localPort}`));
    s.on("secureConnect", () => s.write("GET /reviews/1 HTTP/1.1\r\nhost: reviews:9080\r\nconnection: close\r\n\r\n"));
    s.on("data", (c: Buffer) => (reply += c));
    s.on("error", (e) => (reply ||= `error: ${e.message}`));
    s.on("close", () => { clearTimeout(timer); resolve({ reply, peer }); });
  });
}

/** Waits out the one-line-a-second limit per filter chain, so each case gets its own line. */
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

async function refusedInbound(pem: Pem | undefined, expected: RegExp): Promise<string> {
  await nextSecond();
  const hits = app.hits;
  const { reply, peer } = await inbound(pem);
  assert.doesNotMatch(reply, /HTTP\/1\.1/, "no HTTP answer of any kind");
  assert.equal(app.hits, hits, "the app got nothing");
  const lines = await linesAbout(` ${peer}`);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], expected);
  return lines[0];
}

test("inbound: a peer with a mesh certificate is served", async () => {
  const { reply, peer } = await inbound(await meshCert("productpage"));
  assert.match(reply, /^HTTP\/1\.1 200 OK/);
  assert.match(reply, /\r\n\r\nreviews$/);
  assert.ok(!stderr.includes(peer));
});

test("inbound: another CA's certificate with the same SPIFFE ID is refused and logged", async () => {
  await refusedInbound(await signed(other, "productpage"),
    /^trellis proxy: listener virtualInbound: refused TLS from 127\.0\.0\.1:\d+ \(certificate spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage\): unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
});

test("inbound: an expired certificate from the mesh's own CA is refused and logged", async () => {
  await refusedInbound(await signed(mesh, "productpage", { expired: true }),
    /^trellis proxy: listener virtualInbound: refused TLS from 127\.0\.0\.1:\d+ \(certificate spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage\): certificate has expired \(CERT_HAS_EXPIRED\)$/);
});

test("inbound: a peer without a certificate is refused and logged", async () => {
  await refusedInbound(undefined, /^trellis proxy: listener virtualInbound: refused TLS from 127\.0\.0\.1:\d+: peer did not return a certificate \(ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE\)$/);
});

test("inbound: a burst of bad handshakes logs one line; the next line counts the rest", async () => {
  await nextSecond();
  const expired = await signed(mesh, "productpage", { expired: true });
  // Each connection has closed when its call resolves: the proxy has judged all four by then.
  const burst = await Promise.all([1, 2, 3, 4].map(() => inbound(expired)));
  await waitFor(() => burst.some((b) => stderr.includes(` ${b.peer}`)), 3000, "the first refusal of the burst to be logged");
  assert.equal(burst.filter((b) => stderr.includes(` ${b.peer}`)).length, 1, stderr);
  const next = await refusedInbound(undefined, /peer did not return a certificate/);
  assert.match(next, /\(and 3 more failed handshakes here not logged since the last line\)$/);
});

/** The access-log line of one request through the outbound listener. */
async function accessLog(path: string): Promise<string> {
  return waitFor(() => stdout.split("\n").find((l) => l.includes(`"GET ${path} HTTP/1.1"`)), 3000, `the access log of ${path}`);
}

test("outbound: a host with a mesh certificate gets the request over HTTP/1.1 and HTTP/2 (the clusters work)", async () => {
  for (const path of ["/good", "/good-h2"]) {
    const requests = upstreams.good.requests;
    const r = await get(`http://127.0.0.1:${outboundPort}${path}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, "ratings good");
    assert.equal(upstreams.good.requests, requests + 1);
    assert.equal(upstreams.good.httpVersion, path.endsWith("-h2") ? "2.0" : "1.1");
    assert.match(await accessLog(path), /" 200 - /);
  }
  assert.ok(!stderr.includes("cluster outbound"), stderr);
});

for (const [path, host, reason] of [
  ["/other-ca", "other-ca", "self-signed certificate in certificate chain \\(SELF_SIGNED_CERT_IN_CHAIN\\)"],
  ["/expired", "expired", "certificate has expired \\(CERT_HAS_EXPIRED\\)"],
  ["/expired-h2", "expired-h2", "certificate has expired \\(CERT_HAS_EXPIRED\\)"],
] as const) {
  test(`outbound: a host presenting ${host === "other-ca" ? "another CA's certificate" : `an expired certificate${host.endsWith("h2") ? " (HTTP/2)" : ""}`} gets no request; 503 UF, logged`, async () => {
    const u = upstreams[host.replace(/-h2$/, "")];
    const before = { connections: u.connections, handshakes: u.handshakes, requests: u.requests };
    const r = await get(`http://127.0.0.1:${outboundPort}${path}`);
    assert.equal(r.status, 503, r.text);
    assert.match(r.text, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure, transport failure reason: [A-Z_]+$/);
    assert.match(await accessLog(path), new RegExp(`"GET ${path} HTTP/1\\.1" 503 UF `));
    // The proxy dialled the host but never finished a handshake with it, so no request was sent.
    assert.ok(u.connections > before.connections, "the proxy dialled the host");
    assert.equal(u.handshakes, before.handshakes);
    assert.equal(u.requests, before.requests);
    const lines = await linesAbout(`cluster ${OUTBOUND(host)}:`, ` 127.0.0.1:${u.port}`);
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], new RegExp(`^trellis proxy: cluster outbound\\|9080\\|\\|${host}\\.default\\.svc\\.cluster\\.local: refused TLS to 127\\.0\\.0\\.1:${u.port} \\(certificate spiffe://cluster\\.local/ns/default/sa/ratings\\): ${reason}$`));
  });
}

test("no log line carries key material", (t) => {
  for (const line of stderr.trim().split("\n")) t.diagnostic(line);
  assert.doesNotMatch(stderr, /-----BEGIN|PRIVATE KEY/);
  assert.doesNotMatch(stdout, /-----BEGIN|PRIVATE KEY/);
});
