// Garbage on every kind of port of a real `trellis proxy` process: broken HTTP/1 heads, oversized headers, broken
// HTTP/2, truncated and random TLS (terminating and tls_inspector listeners), half-open and never-reading TCP and
// HTTP clients, a silent client, junk on the admin port. Each abusive connection gets a clean error or is closed
// soon; after each one a normal request on the same listener still succeeds, the process is still running and its
// stderr shows no uncaught exception.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as h2connect } from "node:http2";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";
import { echo, HCM, ROUTER, staticCluster, type Backend } from "./harness.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "trellis-garbage-"));
const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.";
let child: ChildProcess;
let stderr = "";
let app: Backend;
let tcpEcho: Server;
const ports: Record<string, number> = {};
let clientHello: Buffer;

const hcm = (prefix: string) => ({ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: prefix, request_headers_timeout: "0.5s",
  route_config: { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "app" } }] }] }, http_filters: [ROUTER] } });
const listener = (name: string, chains: unknown[], extra: Record<string, unknown> = {}) => ({ name, address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: chains, ...extra });

before(async () => {
  app = await echo("app");
  // A client cut off mid-stream resets the upstream too: an error here is expected, not a failure.
  tcpEcho = createServer((s) => s.on("error", () => {}).pipe(s));
  await new Promise<void>((r) => tcpEcho.listen(0, "127.0.0.1", r));
  const ca = await CertificateAuthority.open({ dir: join(dir, "ca") });
  const keys = await generateKeyPair();
  const cert = (await ca.sign(await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/garbage"]), { trustDomain: "cluster.local", namespace: "default", serviceAccount: "garbage" }))[0];
  const tlsSocket = { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}DownstreamTlsContext`, common_tls_context: {
    tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { inline_string: keys.keyPem } }], alpn_protocols: ["h2", "http/1.1"] } } };
  const bootstrap = {
    node: { id: "garbage", cluster: "garbage" },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [
        listener("http", [{ filters: [hcm("http")] }]),
        listener("tls", [{ transport_socket: tlsSocket, filters: [hcm("tls")] }]),
        listener("inspect", [{ filter_chain_match: { server_names: ["a.test"] }, transport_socket: tlsSocket, filters: [hcm("inspect")] }],
          { listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" } }] }),
        listener("tcp", [{ filters: [{ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: "tcp", cluster: "echo" } }] }]),
      ],
      clusters: [staticCluster("app", [app.port]), staticCluster("echo", [(tcpEcho.address() as { port: number }).port])],
    },
  };
  const file = join(dir, "bootstrap.json");
  writeFileSync(file, JSON.stringify(bootstrap));
  child = spawn(process.execPath, [MAIN, "proxy", "--bootstrap", file, "--drain-timeout", "0.2"], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => (stderr += d));
  const deadline = Date.now() + 10_000;
  let line: RegExpExecArray | null;
  while (!(line = /admin on 127\.0\.0\.1:(\d+).*listeners: (.*)/.exec(stderr))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the proxy did not start; stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  ports.admin = Number(line[1]);
  for (const m of line[2].matchAll(/(\w+)=127\.0\.0\.1:(\d+)/g)) ports[m[1]] = Number(m[2]);
  // A real ClientHello (SNI a.test), captured from Node's TLS client, for truncating.
  clientHello = await new Promise<Buffer>((resolve) => {
    const sink = createServer((s) => s.once("data", (d: Buffer) => { resolve(d); s.destroy(); sink.close(); }));
    sink.listen(0, "127.0.0.1", () => tlsConnect({ host: "127.0.0.1", port: (sink.address() as { port: number }).port, servername: "a.test" }).on("error", () => {}));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  await app?.close();
  await new Promise<void>((r) => (tcpEcho ? tcpEcho.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Sends the bytes (then FIN, if asked), collects what comes back until the proxy closes. Fails if the connection is
 * still open after `ms`: every abuse must end in a close.
 */
function abuse(port: number, bytes: Buffer | string, opts: { fin?: boolean; ms?: number; goaway?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port }, () => {
      if (bytes.length) c.write(bytes);
      if (opts.fin) c.end();
    });
    const parts: Buffer[] = [];
    c.on("data", (d: Buffer) => {
      parts.push(d);
      // HTTP/2: a GOAWAY is the clean error too (the client may then close).
      if (opts.goaway && hasGoaway(Buffer.concat(parts))) c.destroy();
    });
    c.on("error", () => {});
    c.on("close", () => { clearTimeout(timer); resolve(Buffer.concat(parts)); });
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`port ${port}: the proxy kept the connection open ${opts.ms ?? 3000} ms after ${JSON.stringify(bytes.toString("latin1").slice(0, 40))}`)); }, opts.ms ?? 3000);
  });
}

/** Whether the server's HTTP/2 frames (after its SETTINGS) hold a GOAWAY. */
function hasGoaway(frames: Buffer): boolean {
  for (let off = 0; off + 9 <= frames.length; off += 9 + frames.readUIntBE(off, 3)) if (frames[off + 3] === 7) return true;
  return false;
}

/** The proxy is still running, said nothing about an uncaught error, and every listener serves a normal request. */
async function stillServing(): Promise<void> {
  assert.equal(child.exitCode, null, `the proxy exited; stderr:\n${stderr}`);
  assert.doesNotMatch(stderr, /Uncaught|TypeError|RangeError|ReferenceError|ERR_INTERNAL_ASSERTION|at .*\.js:\d+:\d+\)/, stderr);
  const get = (port: number, tls?: string) => new Promise<string>((resolve, reject) => {
    const make = tls !== undefined ? httpsRequest : httpRequest;
    const req = make({ host: "127.0.0.1", port, path: "/ok", agent: false, ...(tls !== undefined ? { servername: tls, rejectUnauthorized: false } : {}) }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve(`${res.statusCode} ${JSON.parse(body).path}`));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no answer on ${port}`)));
    req.end();
  });
  assert.equal(await get(ports.http), "200 /ok");
  assert.equal(await get(ports.tls, ""), "200 /ok");
  assert.equal(await get(ports.inspect, "a.test"), "200 /ok");
  // HTTP/2 over TLS too (ALPN h2).
  const session = h2connect(`https://127.0.0.1:${ports.tls}`, { rejectUnauthorized: false });
  const h2 = await new Promise<number>((resolve, reject) => {
    const s = session.request({ ":path": "/ok" });
    s.on("response", (h) => resolve(Number(h[":status"])));
    s.on("error", reject);
    s.resume();
  });
  session.close();
  assert.equal(h2, 200);
  const payload = randomBytes(1000);
  const back = await new Promise<Buffer>((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port: ports.tcp }, () => c.end(payload));
    const parts: Buffer[] = [];
    c.on("data", (d: Buffer) => parts.push(d));
    c.on("end", () => resolve(Buffer.concat(parts)));
    c.on("error", reject);
  });
  assert.ok(back.equals(payload), "the TCP echo still answers");
  const admin = await new Promise<number>((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port: ports.admin, path: "/ready", agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on("error", reject).end();
  });
  assert.equal(admin, 200);
}

test("the proxy starts serving every listener", async () => {
  await stillServing();
});

test("malformed HTTP/1 request lines and headers get 400 and a close", async () => {
  for (const bad of [
    "NOT HTTP AT ALL\r\n\r\n",
    "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n",
  ]) {
    const reply = (await abuse(ports.http, bad)).toString("latin1");
    assert.match(reply, /^HTTP\/1\.1 (400|501|505) /, `${JSON.stringify(bad)} -> ${JSON.stringify(reply)}`);
    assert.match(reply, /connection: close/i);
  }
  await stillServing();
});

test("oversized headers get 431; random binary is refused or closed", async () => {
  assert.match((await abuse(ports.http, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`)).toString("latin1"), /^HTTP\/1\.1 431 /);
  for (let i = 0; i < 20; i++) {
    const reply = (await abuse(ports.http, randomBytes(64 + i * 200))).toString("latin1");
    assert.ok(reply === "" || /^HTTP\/1\.1 4\d\d /.test(reply), JSON.stringify(reply.slice(0, 80)));
  }
  await stillServing();
});

test("an invalid HTTP/2 preface and garbage frames after a valid one end in GOAWAY or a close", async () => {
  const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  await abuse(ports.http, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + "x".repeat(100), { goaway: true });
  for (let i = 0; i < 10; i++) {
    const reply = await abuse(ports.http, Buffer.concat([Buffer.from(PREFACE), randomBytes(200 + i * 100)]), { goaway: true });
    // Whatever came back is frames; a GOAWAY (type 7) says why, but a plain close is clean too.
    assert.ok(reply.length === 0 || reply.length >= 9, `a partial frame: ${reply.toString("hex")}`);
  }
  // A well-formed SETTINGS then a frame on stream 0 that must not be there (DATA on stream 0: PROTOCOL_ERROR).
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const dataOnZero = Buffer.from([0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
  const reply = await abuse(ports.http, Buffer.concat([Buffer.from(PREFACE), settings, dataOnZero]), { goaway: true });
  assert.ok(hasGoaway(reply), `a GOAWAY for DATA on stream 0: ${reply.toString("hex")}`);
  await stillServing();
});

test("truncated ClientHellos and random bytes on a TLS listener and a tls_inspector listener are closed", async () => {
  for (const port of [ports.tls, ports.inspect]) {
    for (const cut of [1, 5, 40, clientHello.length - 1]) await abuse(port, clientHello.subarray(0, cut), { fin: true });
    // A TLS record header announcing more than is sent, then FIN.
    await abuse(port, Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00]), { fin: true });
    for (let i = 0; i < 5; i++) await abuse(port, Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), randomBytes(300)]), { fin: true });
    for (let i = 0; i < 5; i++) await abuse(port, randomBytes(500), { fin: true });
  }
  await stillServing();
});

test("half-open clients: FIN after a whole request still gets the answer; FIN mid-request closes; TCP FIN half-closes", async () => {
  assert.match((await abuse(ports.http, "GET /half HTTP/1.1\r\nHost: x\r\n\r\n", { fin: true })).toString("latin1"), /^HTTP\/1\.1 200 [\s\S]*"path":"\/half"/);
  assert.equal((await abuse(ports.http, "GET /half HTTP/1.1\r\nHo", { fin: true })).length, 0);
  assert.match((await abuse(ports.http, "POST /half HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\nabc", { fin: true })).toString("latin1"), /^$|^HTTP\/1\.1 [45]\d\d /);
  assert.equal((await abuse(ports.tcp, "ping", { fin: true })).toString(), "ping");
  await stillServing();
});

test("clients that never read: the proxy keeps going and lets go when they leave", async () => {
  for (const port of [ports.http, ports.tcp]) {
    const c = connect({ host: "127.0.0.1", port });
    c.on("error", () => {});
    c.pause();
    await new Promise<void>((r) => c.once("connect", () => r()));
    // Pipelined requests (or a stream of bytes) whose answers nobody reads.
    const burst = port === ports.http ? Buffer.from("GET /x HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000)) : randomBytes(4 * 1024 * 1024);
    c.write(burst);
    await new Promise((r) => setTimeout(r, 500));
    c.destroy();
  }
  await stillServing();
});

test("a client that connects and sends nothing is closed by request_headers_timeout", async () => {
  const started = Date.now();
  assert.equal((await abuse(ports.http, "", { ms: 3000 })).length, 0);
  assert.ok(Date.now() - started >= 400, "not before the timeout");
  await stillServing();
});

test("random binary on the admin port gets 400 or a close", async () => {
  for (let i = 0; i < 10; i++) {
    const reply = (await abuse(ports.admin, randomBytes(100 + i * 300), { fin: true })).toString("latin1");
    assert.ok(reply === "" || /^HTTP\/1\.1 4\d\d /.test(reply), JSON.stringify(reply.slice(0, 80)));
  }
  assert.match((await abuse(ports.admin, "GARBAGE\r\n\r\n")).toString("latin1"), /^HTTP\/1\.1 400 /);
  await stillServing();
});
