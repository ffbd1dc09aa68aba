// Soak: a few thousand mixed operations (HTTP/1.1 keep-alive GETs, chunked POSTs, HTTP/2, gRPC bidirectional
// streams, WebSocket upgrades, raw TCP) through two chained proxies (client side -> server side -> real backends),
// with bounded concurrency. Nothing may be lost or altered, and once the clients leave and the pools' idle timeouts
// pass, the proxies' admin gauges and the process's open file descriptors come back to their idle values.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect as h2connect, type ClientHttp2Session } from "node:http2";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { backend, httpListener, proxy, staticCluster, type TestProxy } from "./harness.js";
import { EchoClient, type Msg, startEchoServer } from "./grpc-echo.js";

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

/** Pools close idle connections quickly, so "idle" means no connections at all and the test can wait for it. */
const IDLE = { common_http_protocol_options: { idle_timeout: "0.5s" } };
const HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const options = (h2: boolean) => ({ typed_extension_protocol_options: { [HTTP_OPTIONS]: { "@type": `type.googleapis.com/${HTTP_OPTIONS}`, ...IDLE, explicit_http_config: h2 ? { http2_protocol_options: {} } : { http_protocol_options: {} } } } });
const tcpListener = (name: string, cluster: string) => ({
  name, address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
  filter_chains: [{ filters: [{ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: name, cluster } }] }],
});
const routes = (grpcCluster: string, wsCluster: string, httpCluster: string) => ({ virtual_hosts: [{ name: "all", domains: ["*"], routes: [
  { match: { prefix: "/trellis.test.Echo/" }, route: { cluster: grpcCluster } },
  { match: { prefix: "/ws" }, route: { cluster: wsCluster } },
  { match: { prefix: "/" }, route: { cluster: httpCluster } },
] }] });
const WS = { upgrade_configs: [{ upgrade_type: "websocket" }] };

/** Deterministic bytes for a GET: the client can check them without having sent anything. */
function pattern(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stats as an operator reads them: the admin endpoint's /stats text, "name: value" per line. */
async function adminStats(p: TestProxy, filter: string): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: p.adminPort, path: `/stats?filter=${encodeURIComponent(filter)}`, agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
  return new Map(text.trim().split("\n").filter(Boolean).map((l) => { const i = l.lastIndexOf(": "); return [l.slice(0, i), Number(l.slice(i + 2))]; }));
}

function withTimeout<T>(what: string, p: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms); })]).finally(() => clearTimeout(timer));
}

test("thousands of mixed requests through two chained proxies: nothing lost, nothing leaked", async (t) => {
  // Backends: HTTP/1.1 (pattern GETs, chunked echo), gRPC echo, a WebSocket echo, a TCP echo.
  const http = await backend((req, res) => {
    const m = /^\/bytes\/(\d+)\/(\d+)$/.exec(req.url ?? "");
    if (m) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(pattern(Number(m[1]), Number(m[2])));
      return;
    }
    // Echoed chunk by chunk: a chunked response whose pieces follow the request's.
    res.writeHead(200, { "content-type": "application/octet-stream" });
    req.on("data", (d: Buffer) => res.write(d));
    req.on("end", () => res.end());
  });
  cleanup.push(() => http.close());
  const grpcServer = await startEchoServer("s");
  cleanup.push(() => grpcServer.close());
  const ws = await backend((_q, res) => res.writeHead(400).end());
  ws.server.on("upgrade", (req, socket: Socket) => {
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on("error", () => {}).pipe(socket);
  });
  cleanup.push(() => ws.close());
  const tcpEcho: Server = createServer((s) => s.on("error", () => {}).pipe(s));
  await new Promise<void>((r) => tcpEcho.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => tcpEcho.close(() => r())));
  const tcpPort = (tcpEcho.address() as { port: number }).port;

  // Server-side proxy in front of the backends, then the client-side proxy in front of it.
  const server = await proxy([httpListener("in", routes("grpc", "ws", "http"), undefined, WS), tcpListener("in_tcp", "tcp")], [
    staticCluster("http", [http.port], options(false)), staticCluster("grpc", [grpcServer.port], options(true)),
    staticCluster("ws", [ws.port]), staticCluster("tcp", [tcpPort]),
  ]);
  cleanup.push(() => server.stop());
  const client = await proxy([httpListener("out", routes("peer_h2", "peer_h1", "peer_h1"), undefined, WS), tcpListener("out_tcp", "peer_tcp")], [
    staticCluster("peer_h1", [server.port("in")], options(false)), staticCluster("peer_h2", [server.port("in")], options(true)),
    staticCluster("peer_tcp", [server.port("in_tcp")]),
  ]);
  cleanup.push(() => client.stop());
  const httpPort = client.port("out");
  const tcpIn = client.port("out_tcp");

  const fdsBefore = openFds();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < 4; i++) sessions.push(h2connect(`http://127.0.0.1:${httpPort}`));
  const grpcClient = new EchoClient(`127.0.0.1:${httpPort}`, grpc.credentials.createInsecure());

  const h1 = (method: string, path: string, body?: Buffer) => new Promise<Buffer>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: httpPort, method, path, agent, headers: body ? { "transfer-encoding": "chunked" } : {} }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${Buffer.concat(parts)}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body) {
      // Several writes: a chunked body of several chunks.
      for (let i = 0; i < body.length; i += 8192) req.write(body.subarray(i, i + 8192));
    }
    req.end();
  });
  const h2 = (session: ClientHttp2Session, body: Buffer) => new Promise<Buffer>((resolve, reject) => {
    const s = session.request({ ":method": "POST", ":path": "/h2-echo" });
    const parts: Buffer[] = [];
    let status = 0;
    s.on("response", (h) => (status = Number(h[":status"])));
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => (status === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`h2: ${status}`))));
    s.on("error", reject);
    s.end(body);
  });
  const chat = (tag: number) => new Promise<void>((resolve, reject) => {
    const call = (grpcClient as unknown as { Chat: () => grpc.ClientDuplexStream<Msg, Msg> }).Chat();
    const got: Msg[] = [];
    call.on("data", (m: Msg) => got.push(m));
    call.on("error", reject);
    call.on("end", () => {
      const want = Array.from({ length: 10 }, (_, i) => ({ text: `s:${tag}-${i}`, n: (tag + i) * 2 }));
      try {
        assert.deepEqual(got, want);
        resolve();
      } catch (e) {
        reject(e as Error);
      }
    });
    for (let i = 0; i < 10; i++) call.write({ text: `${tag}-${i}`, n: tag + i });
    call.end();
  });
  /** Writes the payload after the handshake (or at once for raw TCP), reads it all back, then closes. */
  const rawEcho = (port: number, payload: Buffer, upgrade: boolean) => new Promise<Buffer>((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port });
    let buf = Buffer.alloc(0);
    let headerDone = !upgrade;
    c.on("connect", () => {
      if (upgrade) c.write(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n\r\n`);
      else c.write(payload);
    });
    c.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!headerDone) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!buf.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) return reject(new Error(`no upgrade: ${buf.toString()}`));
        headerDone = true;
        buf = buf.subarray(end + 4);
        c.write(payload);
      }
      if (buf.length >= payload.length) {
        c.end();
        resolve(buf);
      }
    });
    c.on("error", reject);
  });

  type Kind = "h1-get" | "h1-chunked" | "h2" | "grpc" | "ws" | "tcp";
  const plan: Kind[] = [];
  const counts: Record<Kind, number> = { "h1-get": 700, "h1-chunked": 500, h2: 500, grpc: 250, ws: 200, tcp: 250 };
  for (const [k, n] of Object.entries(counts)) for (let i = 0; i < n; i++) plan.push(k as Kind);
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  const done: Record<Kind, number> = { "h1-get": 0, "h1-chunked": 0, h2: 0, grpc: 0, ws: 0, tcp: 0 };
  const run = async (kind: Kind, n: number): Promise<void> => {
    // Mostly small, one in twenty large enough to fill socket buffers and exercise backpressure on every hop.
    const size = 1 + Math.floor(Math.random() * (n % 20 === 0 ? 512 : 48) * 1024);
    switch (kind) {
      case "h1-get": {
        const got = await h1("GET", `/bytes/${n}/${size}`);
        assert.ok(got.equals(pattern(n, size)), `GET ${n}: ${got.length} bytes, wanted ${size}`);
        break;
      }
      case "h1-chunked": {
        const body = randomBytes(size);
        assert.ok((await h1("POST", "/echo", body)).equals(body), `chunked POST ${n}`);
        break;
      }
      case "h2": {
        const body = randomBytes(size);
        assert.ok((await h2(sessions[n % sessions.length], body)).equals(body), `h2 POST ${n}`);
        break;
      }
      case "grpc":
        await chat(n);
        break;
      case "ws":
      case "tcp": {
        const body = randomBytes(size);
        const got = await rawEcho(kind === "ws" ? httpPort : tcpIn, body, kind === "ws");
        assert.ok(got.equals(body), `${kind} ${n}: ${got.length} bytes back of ${size}`);
        break;
      }
    }
    done[kind]++;
  };

  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const n = next++;
      await withTimeout("the operation", run(plan[n], n)).catch((e: Error) => { throw new Error(`${plan[n]} #${n}: ${e.message}`, { cause: e }); });
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  assert.deepEqual(done, counts);

  // The clients leave; the pools' idle timeouts (0.5 s) close what the proxies keep between them and the backends.
  agent.destroy();
  for (const s of sessions) s.close();
  grpcClient.close();
  const gauges = async () => {
    const all = new Map([...await adminStats(client, "cx_active$"), ...await adminStats(server, "cx_active$")]);
    return [...all].filter(([, v]) => v !== 0);
  };
  let busy: Array<[string, number]>;
  const deadline = Date.now() + 10_000;
  while ((busy = await gauges()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(busy, [], "every downstream and upstream connection gauge is back to 0");
  // Each hop's requests all ended (none left active) and none was answered by the proxy itself.
  for (const p of [client, server]) {
    assert.equal(p.proxy.stats.gaugeValue(`http.${p === client ? "out" : "in"}.downstream_rq_active`), 0);
    assert.equal(p.proxy.stats.counter(`http.${p === client ? "out" : "in"}.downstream_rq_5xx`), 0);
  }
  await until(`open fds to come back near ${fdsBefore}`, () => openFds() <= fdsBefore + 2, 10_000).catch(() => {});
  t.diagnostic(`fds before ${fdsBefore}, after ${openFds()}; ${plan.length} operations`);
  assert.ok(openFds() <= fdsBefore + 2, `open file descriptors: ${openFds()} after, ${fdsBefore} before`);
});

test("a large HTTP/1.1 response to a client that stops reading for a while arrives whole (backpressure resumes)", async () => {
  const big = pattern(7, 4 * 1024 * 1024);
  const up = await backend((_q, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    for (let i = 0; i < big.length; i += 256 * 1024) res.write(big.subarray(i, i + 256 * 1024));
    res.end();
  });
  cleanup.push(() => up.close());
  const p = await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "u" } }] }] })], [staticCluster("u", [up.port])]);
  cleanup.push(() => p.stop());
  const got = await withTimeout("the big response", new Promise<Buffer>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: p.port(), path: "/big", agent: false }, (res) => {
      const parts: Buffer[] = [];
      // Nothing read for 300 ms: the proxy's writes to this client fill up and must wait for "drain".
      res.pause();
      setTimeout(() => res.resume(), 300);
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve(Buffer.concat(parts)));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  }), 10_000);
  assert.equal(got.length, big.length);
  assert.ok(got.equals(big));
});
