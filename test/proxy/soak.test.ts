// Soak: a few thousand mixed operations (HTTP/1.1 keep-alive with chunked and sized bodies, HTTP/2, gRPC
// bidirectional streams, WebSocket echo, raw TCP echo) through two chained proxies (client side -> mutual TLS ->
// server side, whose RBAC admits the client's SPIFFE identity only -> real backends), with bounded concurrency. Nothing may be lost (every byte echoed exactly, counts match, no 5xx)
// and nothing may leak: afterwards both proxies' active gauges are back to zero and the process holds no more file
// descriptors than before, once the clients closed and the upstream pools' idle timeout passed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { connect as h2connect, type ClientHttp2Session } from "node:http2";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";
import { backend, HCM, proxy, ROUTER, staticCluster, type Backend, type TestProxy } from "./harness.js";
import { EchoClient, type Msg, startEchoServer } from "./grpc-echo.js";
import { acceptWebSocket, webSocketRoundTrip } from "./websocket-echo.js";

const OPERATIONS = 2000;
const CONCURRENCY = 16;
const TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
/** Upstream pools close idle connections soon, so "idle" means no upstream connection at all. */
const protocolOptions = (h2: boolean) => ({ typed_extension_protocol_options: { [HTTP_OPTIONS]: {
  "@type": `type.googleapis.com/${HTTP_OPTIONS}`, common_http_protocol_options: { idle_timeout: "0.5s" },
  explicit_http_config: h2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
} } });
const GRPC_PREFIX = "/trellis.test.Echo/";
const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.";
const id = (sa: string) => `spiffe://cluster.local/ns/default/sa/${sa}`;
const dir = mkdtempSync(join(tmpdir(), "trellis-soak-"));

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

let web: Backend;
let webSockets = 0;
let tcpEcho: Server;
let server: TestProxy;
let client: TestProxy;
const fds = () => readdirSync("/proc/self/fd").length;
let baselineFds = 0;

/** Deterministic bytes for a generated response, so the client knows exactly what it must get. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

before(async () => {
  // /gen?n=N&seed=S answers N pattern bytes in several writes (chunked); /echo streams the request body back.
  web = await backend((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname.endsWith("/gen")) {
      const body = pattern(Number(url.searchParams.get("n")), Number(url.searchParams.get("seed")));
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const step = Math.max(1, Math.ceil(body.length / 4));
      for (let i = 0; i < body.length; i += step) res.write(body.subarray(i, i + step));
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    req.pipe(res);
  });
  web.server.on("upgrade", (req, socket: Socket, head: Buffer) => {
    webSockets++;
    acceptWebSocket(req, socket, head);
  });
  cleanup.push(() => web.close());
  const grpcServer = await startEchoServer("s");
  cleanup.push(() => grpcServer.close());
  const tcpSockets = new Set<Socket>();
  tcpEcho = createServer({ allowHalfOpen: true }, (s) => {
    tcpSockets.add(s);
    s.once("close", () => tcpSockets.delete(s));
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((r) => tcpEcho.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => { for (const s of tcpSockets) s.destroy(); tcpEcho.close(() => r()); }));

  const ca = await CertificateAuthority.open({ dir: join(dir, "ca") });
  const cert = async (sa: string) => {
    const keys = await generateKeyPair();
    const chain = await ca.sign(await createCsr(keys, [id(sa)]), { trustDomain: "cluster.local", namespace: "default", serviceAccount: sa });
    return { certificate_chain: { inline_string: chain[0] }, private_key: { inline_string: keys.keyPem } };
  };
  const serverCert = await cert("soak-server");
  const clientCert = await cert("soak-client");
  const downstreamTls = { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}DownstreamTlsContext`, require_client_certificate: true,
    common_tls_context: { tls_certificates: [serverCert], validation_context: { trusted_ca: { inline_string: ca.rootsPem() } } } } };
  const upstreamTls = (alpn: string[]) => ({ transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}UpstreamTlsContext`, common_tls_context: {
    tls_certificates: [clientCert], alpn_protocols: alpn,
    validation_context: { match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: id("soak-server") } }], trusted_ca: { inline_string: ca.rootsPem() } },
  } } } });
  const RBAC = { name: "envoy.filters.http.rbac", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    rules: { action: "ALLOW", policies: { client: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: id("soak-client") } } }] } } } } };

  const route = (prefix: string, cluster: string) => ({ match: { prefix }, route: { cluster, timeout: "30s" } });
  const listener = (name: string, filter: Record<string, unknown>, tls?: Record<string, unknown>) => ({
    name, address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: [{ filters: [filter], ...(tls ? { transport_socket: tls } : {}) }],
  });
  const tcpProxy = (name: string, cluster: string) => ({ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP_PROXY, stat_prefix: name, cluster } });
  const hcm = (name: string, routes: unknown[], filters: unknown[]) => ({ name: "envoy.filters.network.http_connection_manager", typed_config: {
    "@type": HCM, stat_prefix: name, upgrade_configs: [{ upgrade_type: "websocket" }], route_config: { virtual_hosts: [{ name: "all", domains: ["*"], routes }] }, http_filters: filters } });
  server = await proxy([
    listener("s-http", hcm("s-http", [route(GRPC_PREFIX, "grpc"), route("/", "web")], [RBAC, ROUTER]), downstreamTls),
    listener("s-tcp", tcpProxy("s-tcp", "tcp-echo"), downstreamTls),
  ], [
    staticCluster("web", [web.port], protocolOptions(false)),
    staticCluster("grpc", [grpcServer.port], protocolOptions(true)),
    staticCluster("tcp-echo", [(tcpEcho.address() as { port: number }).port]),
  ]);
  cleanup.push(() => server.stop());
  // The client side sends gRPC and the /h2 paths over HTTP/2 to the server side, the rest over HTTP/1.1.
  client = await proxy([
    listener("c-http", hcm("c-http", [route(GRPC_PREFIX, "s-h2"), route("/h2/", "s-h2"), route("/", "s-h1")], [ROUTER])),
    listener("c-tcp", tcpProxy("c-tcp", "s-tcp")),
  ], [
    staticCluster("s-h1", [server.port("s-http")], { ...protocolOptions(false), ...upstreamTls(["http/1.1"]) }),
    staticCluster("s-h2", [server.port("s-http")], { ...protocolOptions(true), ...upstreamTls(["h2"]) }),
    staticCluster("s-tcp", [server.port("s-tcp")], upstreamTls([])),
  ]);
  cleanup.push(() => client.stop());
  baselineFds = fds();
});

type Kind = "h1-get" | "h1-post" | "h1-chunked" | "h2-get" | "h2-post" | "grpc" | "ws" | "tcp";
const MIX: Array<[Kind, number]> = [["h1-get", 25], ["h1-post", 15], ["h1-chunked", 15], ["h2-get", 15], ["h2-post", 10], ["grpc", 6], ["ws", 7], ["tcp", 7]];

/** A body size: mostly a few KB, some up to 100 KB. */
function bodySize(i: number): number {
  const sizes = [2048, 3000, 5000, 8192, 16_000, 40_000, 100_000];
  return sizes[(i * 7) % sizes.length] + (i % 13);
}

function plan(n: number): Kind[] {
  const total = MIX.reduce((s, [, w]) => s + w, 0);
  const out: Kind[] = [];
  for (let i = 0; i < n; i++) {
    let r = (i * 7919) % total;
    out.push(MIX.find(([, w]) => (r -= w) < 0)![0]);
  }
  return out;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const h2Sessions: ClientHttp2Session[] = [];
let grpcClient: grpc.Client;

function h1(path: string, method: string, body: Buffer | undefined, chunked: boolean): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = chunked ? { "transfer-encoding": "chunked" } : body ? { "content-length": body.length } : {};
    const req = request({ host: "127.0.0.1", port: client.port("c-http"), path, method, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
    if (body && chunked) {
      // Several writes, each its own chunk on the wire.
      const step = Math.ceil(body.length / 5);
      for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      req.end();
    } else req.end(body);
  });
}

function h2(i: number, path: string, body: Buffer | undefined): Promise<{ status: number; body: Buffer }> {
  const session = h2Sessions[i % h2Sessions.length];
  return new Promise((resolve, reject) => {
    const s = session.request({ ":path": path, ":method": body ? "POST" : "GET" }, { endStream: !body });
    let status = 0;
    const parts: Buffer[] = [];
    s.on("response", (h) => (status = Number(h[":status"])));
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => resolve({ status, body: Buffer.concat(parts) }));
    s.on("error", reject);
    s.setTimeout(15_000, () => s.close(0x8));
    if (body) s.end(body);
  });
}

function grpcChat(i: number): Promise<void> {
  const call = (grpcClient as unknown as { Chat: () => grpc.ClientDuplexStream<Msg, Msg> }).Chat();
  const count = 5 + (i % 16);
  const got: Msg[] = [];
  return new Promise<void>((resolve, reject) => {
    call.on("data", (m: Msg) => got.push(m));
    call.on("error", reject);
    call.on("end", () => {
      try {
        assert.equal(got.length, count, `gRPC stream ${i}: echoes`);
        got.forEach((m, k) => assert.deepEqual(m, { text: `s:op${i}-${k}`, n: 2 * (k + i) }));
        resolve();
      } catch (e) { reject(e as Error); }
    });
    for (let k = 0; k < count; k++) call.write({ text: `op${i}-${k}`, n: k + i });
    call.end();
  });
}

function tcpRoundTrip(payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port: client.port("c-tcp"), allowHalfOpen: true }, () => c.end(payload));
    const parts: Buffer[] = [];
    c.on("data", (d: Buffer) => parts.push(d));
    c.on("end", () => c.end());
    c.on("close", () => resolve(Buffer.concat(parts)));
    c.on("error", reject);
    c.setTimeout(15_000, () => c.destroy(new Error("tcp echo: no close in 15 s")));
  });
}

async function run(i: number, kind: Kind): Promise<void> {
  const size = bodySize(i);
  switch (kind) {
    case "h1-get":
    case "h2-get": {
      const n = i % 5 === 0 ? 0 : size;
      const path = `/${kind === "h2-get" ? "h2" : "h1"}/gen?n=${n}&seed=${i & 0xff}`;
      const r = kind === "h1-get" ? await h1(path, "GET", undefined, false) : await h2(i, path, undefined);
      assert.equal(r.status, 200, `${kind} ${i}`);
      assert.ok(r.body.equals(pattern(n, i & 0xff)), `${kind} ${i}: ${r.body.length} bytes, ${n} expected, or not the same`);
      return;
    }
    case "h1-post":
    case "h1-chunked":
    case "h2-post": {
      const body = randomBytes(size);
      const r = kind === "h2-post" ? await h2(i, "/h2/echo", body) : await h1("/h1/echo", "POST", body, kind === "h1-chunked");
      assert.equal(r.status, 200, `${kind} ${i}`);
      assert.ok(r.body.equals(body), `${kind} ${i}: ${r.body.length} bytes back of ${body.length}, or not the same`);
      return;
    }
    case "grpc":
      return grpcChat(i);
    case "ws": {
      const messages = Array.from({ length: 1 + (i % 5) }, (_, k) => randomBytes(k === 0 ? 10 : 100 * k * k + (i % 200)));
      const got = await webSocketRoundTrip(client.port("c-http"), `/ws/${i}`, messages);
      assert.equal(got.length, messages.length, `ws ${i}: echoes`);
      got.forEach((g, k) => assert.ok(g.equals(messages[k]), `ws ${i}: message ${k} differs`));
      return;
    }
    case "tcp": {
      const payload = randomBytes(i % 3 === 0 ? size : 64 + (i % 500));
      const back = await tcpRoundTrip(payload);
      assert.ok(back.equals(payload), `tcp ${i}: ${back.length} bytes back of ${payload.length}, or not the same`);
    }
  }
}

/** Every *_active gauge (connections and requests, downstream and upstream) that is not zero. */
function busyGauges(p: TestProxy): string[] {
  return p.proxy.stats.json().stats.filter((s) => /(downstream_cx_active|upstream_cx_active|downstream_rq_active|upstream_rq_active)$/.test(s.name) && s.value !== 0).map((s) => `${s.name}=${s.value}`);
}

test(`${OPERATIONS} mixed operations through two chained proxies: nothing lost, no 5xx, no leak`, async (t) => {
  const started = Date.now();
  const kinds = plan(OPERATIONS);
  const planned = new Map<Kind, number>();
  for (const k of kinds) planned.set(k, (planned.get(k) ?? 0) + 1);
  for (let s = 0; s < 2; s++) {
    const session = h2connect(`http://127.0.0.1:${client.port("c-http")}`);
    session.on("error", () => {});
    h2Sessions.push(session);
  }
  grpcClient = new EchoClient(`127.0.0.1:${client.port("c-http")}`, grpc.credentials.createInsecure());
  // Closed below before the leak checks; again here (harmlessly) should an assertion stop the test first.
  cleanup.push(() => { agent.destroy(); for (const s of h2Sessions) s.destroy(); grpcClient.close(); });
  const hitsBefore = web.hits;
  const webSocketsBefore = webSockets;

  const done = new Map<Kind, number>();
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < kinds.length) {
      const i = next++;
      try {
        await run(i, kinds[i]);
        done.set(kinds[i], (done.get(kinds[i]) ?? 0) + 1);
      } catch (e) {
        failures.push(`${kinds[i]} #${i}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.deepEqual(failures, [], `${failures.length} operations failed`);
  assert.deepEqual(done, planned);

  // Every HTTP request reached the web backend exactly once, and neither proxy answered a 5xx.
  const httpOps = ["h1-get", "h1-post", "h1-chunked", "h2-get", "h2-post"].reduce((s, k) => s + (planned.get(k as Kind) ?? 0), 0);
  assert.equal(web.hits - hitsBefore, httpOps, "web backend requests");
  assert.equal(webSockets - webSocketsBefore, planned.get("ws"), "WebSocket handshakes at the backend");
  for (const [p, prefix] of [[client, "c-http"], [server, "s-http"]] as const) {
    const st = p.proxy.stats;
    assert.equal(st.counter(`http.${prefix}.downstream_rq_5xx`), 0, `${prefix}: 5xx answers`);
    assert.equal(st.counter(`http.${prefix}.downstream_rq_2xx`), httpOps + (planned.get("grpc") ?? 0), `${prefix}: 2xx answers`);
  }
  // WebSocket upgrades pass the filter chain like any request (RBAC included) before they become tunnels.
  assert.equal(server.proxy.stats.counter("http.s-http.rbac.allowed"), httpOps + (planned.get("grpc") ?? 0) + (planned.get("ws") ?? 0), "the client's identity reached RBAC on every request and upgrade");
  assert.equal(client.proxy.stats.counter("tcp.c-tcp.downstream_cx_total"), planned.get("tcp"));
  assert.equal(server.proxy.stats.counter("tcp.s-tcp.downstream_cx_total"), planned.get("tcp"));

  t.diagnostic(`${OPERATIONS} operations in ${Date.now() - started} ms`);
  const closing = Date.now();
  // The clients close; then every gauge returns to zero and the descriptors to the baseline.
  agent.destroy();
  for (const s of h2Sessions) s.close();
  grpcClient.close();
  const deadline = Date.now() + 15_000;
  let busy: string[];
  let open: number;
  for (;;) {
    busy = [...busyGauges(client).map((g) => `client ${g}`), ...busyGauges(server).map((g) => `server ${g}`)];
    open = fds();
    if ((busy.length === 0 && open <= baselineFds + 4) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.diagnostic(`idle ${Date.now() - closing} ms after the clients closed; ${open} descriptors open, ${baselineFds} before`);
  assert.deepEqual(busy, [], "gauges still active");
  assert.ok(open <= baselineFds + 4, `${open} file descriptors open, ${baselineFds} before the soak`);
});
