// Garbage on every kind of port: random binary, broken HTTP/2, truncated and random TLS, half-open TCP, a client that
// never reads, a client that sends nothing, junk on the admin port. Each abused connection gets a clean error or a
// clean close, and a normal request on the same listener works right after. The proxy runs as its own process
// (`trellis proxy --bootstrap`), so a crash shows as an exit; its stderr must carry no uncaught exception.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as h2connect } from "node:http2";
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";
import { backend, HCM, ROUTER, staticCluster, type Backend } from "./harness.js";
import { stopProcesses } from "../fixtures/cli-process.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const dir = mkdtempSync(join(tmpdir(), "trellis-garbage-"));
/** What a backend streams to a client that never reads: far more than every socket buffer on the way can hold. */
const FLOOD_BYTES = 256 * 1024 * 1024;
const cleanup: Array<() => unknown> = [];
let child: ChildProcess;
let stderr = "";
const ports: Record<string, number> = {};
let web: Backend;
/** Bytes a backend has handed to its socket for the flood in progress, and whether it got them all out. */
const flood = { written: 0, finished: false };

/** Writes FLOOD_BYTES with backpressure: only as fast as the proxy takes them. */
function startFlood(write: (b: Buffer) => boolean, onDrain: (f: () => void) => void, end: () => void, closed: () => boolean): void {
  flood.written = 0;
  flood.finished = false;
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const pump = () => {
    while (flood.written < FLOOD_BYTES && !closed()) {
      flood.written += chunk.length;
      if (!write(chunk)) return onDrain(pump);
    }
    if (!closed()) {
      flood.finished = true;
      end();
    }
  };
  pump();
}

before(async () => {
  web = await backend((req, res) => {
    if (req.url === "/flood") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      return startFlood((b) => res.write(b), (f) => res.once("drain", f), () => res.end(), () => res.destroyed);
    }
    res.end(`ok ${req.url}`);
  });
  cleanup.push(() => web.close());
  // A TCP backend: "FLOOD" starts a flood; anything else is echoed, and the client's FIN answered with "bye".
  const tcpSockets = new Set<Socket>();
  const tcp: NetServer = createNetServer({ allowHalfOpen: true }, (s) => {
    tcpSockets.add(s);
    s.once("close", () => tcpSockets.delete(s));
    s.on("error", () => s.destroy());
    s.on("data", (d: Buffer) => {
      if (d.toString().startsWith("FLOOD")) startFlood((b) => s.write(b), (f) => s.once("drain", f), () => s.end(), () => s.destroyed);
      else s.write(`echo:${d}`);
    });
    s.on("end", () => s.end("bye"));
  });
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => { for (const s of tcpSockets) s.destroy(); tcp.close(() => r()); }));

  const ca = await CertificateAuthority.open({ dir: join(dir, "ca") });
  const keys = await generateKeyPair();
  const cert = (await ca.sign(await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/garbage"]), { trustDomain: "cluster.local", namespace: "default", serviceAccount: "garbage" }))[0];
  // Behind the tls_inspector listener: a TLS server passed through untouched, which names itself.
  const tlsServer: TlsServer = createTlsServer({ cert, key: keys.keyPem }, (s) => { s.on("error", () => s.destroy()); s.end(`api ${s.servername ?? "-"}`); });
  await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => tlsServer.close(() => r())));

  const address = { socket_address: { address: "127.0.0.1", port_value: 0 } };
  const hcm = (name: string) => ({ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: name, request_headers_timeout: "0.5s",
    route_config: { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "web" } }] }] }, http_filters: [ROUTER] } });
  const tcpProxy = (name: string, cluster: string) => ({ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP_PROXY, stat_prefix: name, cluster } });
  const bootstrap = {
    node: { id: "garbage", cluster: "garbage" },
    admin: { address },
    static_resources: {
      listeners: [
        { name: "http", address, filter_chains: [{ filters: [hcm("http")] }] },
        { name: "https", address, filter_chains: [{ filters: [hcm("https")], transport_socket: { name: "envoy.transport_sockets.tls", typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
          common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { inline_string: keys.keyPem } }] } } } }] },
        { name: "sni", address,
          listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" } }],
          filter_chains: [{ filter_chain_match: { server_names: ["api.example.com"], transport_protocol: "tls" }, filters: [tcpProxy("sni", "tls-api")] }] },
        { name: "tcp", address, filter_chains: [{ filters: [tcpProxy("tcp", "tcp-echo")] }] },
      ],
      clusters: [
        staticCluster("web", [web.port]),
        staticCluster("tls-api", [(tlsServer.address() as { port: number }).port]),
        staticCluster("tcp-echo", [(tcp.address() as { port: number }).port]),
      ],
    },
  };
  const file = join(dir, "bootstrap.json");
  writeFileSync(file, JSON.stringify(bootstrap));
  child = spawn(process.execPath, [MAIN, "proxy", "--bootstrap", file, "--drain-timeout", "0.2"], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => (stderr += d));
  const deadline = Date.now() + 10_000;
  while (!/listeners: /.test(stderr)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the proxy did not start; stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  ports.admin = Number(/admin on 127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
  for (const name of ["http", "https", "sni", "tcp"]) ports[name] = Number(new RegExp(`${name}=127\\.0\\.0\\.1:(\\d+)`).exec(stderr)![1]);
});

after(async () => {
  if (child) await stopProcesses([child]);
  for (const c of cleanup.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome { data: Buffer; closed: boolean; ms: number }

/**
 * Opens a connection, writes each part in turn (a pause between them, so they arrive as separate reads), optionally
 * half-closes, and collects what comes back until the proxy closes the connection or `waitMs` passes.
 */
function abuse(port: number, parts: Buffer[], opts: { fin?: boolean; waitMs?: number } = {}): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const done = (closed: boolean) => { clearTimeout(timer); s.destroy(); resolve({ data: Buffer.concat(chunks), closed, ms: Date.now() - started }); };
    const timer = setTimeout(() => done(false), opts.waitMs ?? 3000);
    s.on("connect", async () => {
      for (const p of parts) {
        if (s.destroyed) return;
        s.write(p);
        await new Promise((r) => setTimeout(r, 30));
      }
      if (opts.fin) s.end();
    });
    s.on("data", (d: Buffer) => chunks.push(d));
    // The proxy's FIN (or a reset) ends the exchange: it is not waiting for more from this client.
    s.on("end", () => done(true));
    s.on("error", () => done(true));
    s.on("close", () => done(true));
  });
}

/** A normal request on each kind of listener, which must keep working after every abuse. */
const normal = {
  http: () => plainGet(ports.http, "/fine"),
  https: () => new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port: ports.https, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => s.write("GET /tls HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
    let data = "";
    s.on("data", (d: Buffer) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", reject);
    s.setTimeout(5000, () => s.destroy(new Error("no answer over TLS in 5 s")));
  }),
  h2tls: () => new Promise<string>((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${ports.https}`, { rejectUnauthorized: false });
    session.on("error", reject);
    const st = session.request({ ":path": "/h2" });
    let status = 0;
    let data = "";
    st.on("response", (h) => (status = Number(h[":status"])));
    st.on("data", (d: Buffer) => (data += d));
    st.on("end", () => { session.close(); resolve(`${status} ${data}`); });
    st.on("error", reject);
    st.setTimeout(5000, () => { session.destroy(); reject(new Error("no HTTP/2 answer over TLS in 5 s")); });
  }),
  sni: () => new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port: ports.sni, servername: "api.example.com", rejectUnauthorized: false });
    let data = "";
    s.on("data", (d: Buffer) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", reject);
    s.setTimeout(5000, () => s.destroy(new Error("no answer through the tls_inspector listener in 5 s")));
  }),
  tcp: async () => (await abuse(ports.tcp, [Buffer.from("ping")], { fin: true })).data.toString(),
  admin: () => plainGet(ports.admin, "/ready"),
};

function plainGet(port: number, path: string): Promise<string> {
  return abuse(port, [Buffer.from(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)]).then((o) => o.data.toString());
}

async function stillServes(kind: keyof typeof normal): Promise<void> {
  const reply = await normal[kind]();
  const expected = { http: /^HTTP\/1\.1 200 [^]*\r\n\r\nok \/fine$/, https: /^HTTP\/1\.1 200 [^]*\r\n\r\nok \/tls$/, h2tls: /^200 ok \/h2$/, sni: /^api api\.example\.com$/, tcp: /^echo:pingbye$/, admin: /^HTTP\/1\.1 200 [^]*\r\nLIVE\n/ }[kind];
  assert.match(reply, expected, `a normal ${kind} request after the abuse`);
  assert.equal(child.exitCode, null, `the proxy exited; stderr:\n${stderr}`);
}

/** Random bytes that cannot be mistaken for the start of TLS or HTTP/2 (the first byte is a control character). */
const junk = (n: number) => Buffer.concat([Buffer.from([0x01]), randomBytes(n - 1)]);

test("random binary on an HTTP listener: 400 and closed", async () => {
  for (let i = 0; i < 5; i++) {
    const o = await abuse(ports.http, [junk(64 + i * 500), junk(100)]);
    assert.ok(o.closed, "the connection was closed");
    assert.match(o.data.toString("latin1"), /^HTTP\/1\.1 400 Bad Request\r\n/);
  }
  await stillServes("http");
});

test("an invalid HTTP/2 preface, and garbage frames after a valid one: the connection is closed", async () => {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  // The first bytes look like HTTP/2, the rest of the preface is wrong.
  const badPreface = await abuse(ports.http, [preface.subarray(0, 8), Buffer.from("0\r\n\r\nXX\r\n\r\n"), junk(200)]);
  assert.ok(badPreface.closed, "closed after a bad preface");
  // A valid preface and SETTINGS, then frames of random type, flags, stream and payload.
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  for (let i = 0; i < 3; i++) {
    const o = await abuse(ports.http, [Buffer.concat([preface, settings]), randomBytes(300), randomBytes(5000)]);
    assert.ok(o.closed, "closed after garbage frames");
    // The server spoke HTTP/2 (its SETTINGS frame first), then gave up on the connection.
    assert.equal(o.data[3], 4, "the proxy's SETTINGS frame");
  }
  await stillServes("http");
});

test("garbage HTTP/2 frames over TLS (ALPN h2) after a valid preface: GOAWAY, then closed", async () => {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  for (let i = 0; i < 3; i++) {
    const o = await new Promise<Outcome>((resolve) => {
      const started = Date.now();
      const chunks: Buffer[] = [];
      const s = tlsConnect({ host: "127.0.0.1", port: ports.https, rejectUnauthorized: false, ALPNProtocols: ["h2"] }, async () => {
        // Separate writes, so the proxy may hold several unread pieces when its HTTP/2 session starts.
        for (const part of [preface, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), randomBytes(300), randomBytes(3000)]) {
          if (s.destroyed) return;
          s.write(part);
          await new Promise((r) => setTimeout(r, i * 10));
        }
      });
      const done = (closed: boolean) => { clearTimeout(timer); s.destroy(); resolve({ data: Buffer.concat(chunks), closed, ms: Date.now() - started }); };
      const timer = setTimeout(() => done(false), 3000);
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("end", () => done(true));
      s.on("error", () => done(true));
      s.on("close", () => done(true));
    });
    assert.ok(o.closed, "closed after garbage frames over TLS");
    assert.equal(child.exitCode, null, `the proxy exited; stderr:\n${stderr}`);
  }
  await stillServes("h2tls");
  await stillServes("https");
});

test("a truncated ClientHello and random bytes on a TLS listener: closed without an answer", async () => {
  const hello = await captureClientHello();
  for (const parts of [[hello.subarray(0, 40)], [hello.subarray(0, hello.length - 10)], [junk(400)], [Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x30]), randomBytes(48)])]]) {
    const o = await abuse(ports.https, parts, { fin: true });
    assert.ok(o.closed, "closed");
    assert.doesNotMatch(o.data.toString("latin1"), /HTTP\/1\.1/);
  }
  await stillServes("https");
});

test("a truncated ClientHello and random bytes on a tls_inspector listener: closed, nothing passed on", async () => {
  const hello = await captureClientHello("api.example.com");
  for (const parts of [[hello.subarray(0, 40)], [hello.subarray(0, hello.length - 10)], [junk(400)], [Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x30]), randomBytes(48)])]]) {
    // Well before the 15 s the listener gives a ClientHello to arrive: the FIN says no more is coming.
    const o = await abuse(ports.sni, parts, { fin: true, waitMs: 8000 });
    assert.ok(o.closed, "closed after the client's FIN");
    assert.doesNotMatch(o.data.toString("latin1"), /^api/);
  }
  await stillServes("sni");
});

test("half-open TCP: a client's FIN right after its request still gets the whole answer (tcp_proxy and HTTP)", async () => {
  const tcp = await abuse(ports.tcp, [Buffer.from("hello")], { fin: true });
  assert.ok(tcp.closed);
  assert.equal(tcp.data.toString(), "echo:hellobye");
  // Not left half-open until the hour-long idle timeout.
  const http = await abuse(ports.http, [Buffer.from("GET /half HTTP/1.1\r\nhost: x\r\n\r\n")], { fin: true, waitMs: 8000 });
  assert.ok(http.closed, "the proxy closed its side once it answered");
  assert.match(http.data.toString(), /^HTTP\/1\.1 200 [^]*\r\n\r\nok \/half$/);
  // A head cut short by the FIN can never complete: closed without waiting for request_headers_timeout (no 408).
  const cut = await abuse(ports.http, [Buffer.from("GET /cut HTTP/1.1\r\nhos")], { fin: true });
  assert.ok(cut.closed);
  assert.equal(cut.data.length, 0, cut.data.toString());
  await stillServes("tcp");
  await stillServes("http");
});

/** Waits until the flood stops moving: the proxy holds it back, so a client that never reads costs bounded memory. */
async function floodStalls(): Promise<number> {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !flood.finished) {
    if (flood.written !== last) { last = flood.written; stableSince = Date.now(); }
    if (flood.written > 0 && Date.now() - stableSince > 750) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(!flood.finished, `the backend got all ${FLOOD_BYTES} bytes out to a client that reads nothing: the proxy buffered them`);
  return flood.written;
}

test("a client that never reads a large response holds the backend back (tcp_proxy and HTTP), then leaves", async () => {
  for (const [kind, request] of [["tcp", "FLOOD"], ["http", "GET /flood HTTP/1.1\r\nhost: x\r\n\r\n"]] as const) {
    const s = connect({ host: "127.0.0.1", port: ports[kind] }, () => s.write(request));
    s.on("error", () => {});
    s.pause();
    try {
      const written = await floodStalls();
      assert.ok(written < FLOOD_BYTES, `${kind}: ${written} bytes written`);
    } finally {
      s.destroy();
    }
    await stillServes(kind);
  }
});

test("a client that connects and sends nothing is closed by request_headers_timeout", async () => {
  // request_headers_timeout is 0.5 s; the listener's own wait for first bytes would be 15 s.
  const o = await abuse(ports.http, [], { waitMs: 8000 });
  assert.ok(o.closed, "closed");
  assert.equal(o.data.length, 0, "quietly: there was no request to answer");
  await stillServes("http");
});

test("random binary on the admin port: an error, and the admin keeps serving", async () => {
  for (let i = 0; i < 3; i++) {
    const o = await abuse(ports.admin, [junk(200 + i * 1000)]);
    assert.ok(o.closed, "closed");
    assert.match(o.data.toString("latin1"), /^HTTP\/1\.1 400 Bad Request\r\n/);
  }
  await stillServes("admin");
});

/** A small seeded generator (xorshift32), so a failing run can be replayed from the seed it printed. */
function prng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

test("mutated protocol messages on every port: each connection is closed soon after the client's FIN", async (t) => {
  const seed = Number(process.env.TRELLIS_GARBAGE_SEED ?? Date.now() % 0xffffffff);
  t.diagnostic(`seed ${seed} (TRELLIS_GARBAGE_SEED replays it)`);
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const hello = await captureClientHello("api.example.com");
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  // Valid openings of each protocol; mutations of them get further into each parser than random bytes do.
  const seeds: Array<[keyof typeof ports, Buffer]> = [
    ["http", Buffer.from("POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")],
    ["http", Buffer.concat([preface, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5, 1, 5, 0, 0, 0, 1, 0x82, 0x84, 0x86, 0x41, 0x00])])],
    ["https", hello],
    ["sni", hello],
    ["tcp", Buffer.from("hello")],
    ["admin", Buffer.from("GET /stats HTTP/1.1\r\nhost: x\r\n\r\n")],
  ];
  const mutate = (b: Buffer): Buffer => {
    const m = Buffer.from(b);
    for (let k = 1 + int(4); k > 0; k--) m[int(m.length)] = int(256);
    return rand() < 0.5 ? m.subarray(0, 1 + int(m.length)) : m;
  };
  const cases = Array.from({ length: 72 }, (_, i) => seeds[i % seeds.length]).map(([port, b]) => ({ port, payload: mutate(b) }));
  for (let i = 0; i < cases.length; i += 8) {
    const outcomes = await Promise.all(cases.slice(i, i + 8).map((c) => abuse(ports[c.port], [c.payload], { fin: true, waitMs: 4000 })));
    outcomes.forEach((o, k) => {
      const c = cases[i + k];
      assert.ok(o.closed, `${c.port}: still open ${o.ms} ms after the client's FIN; sent ${c.payload.toString("hex")}`);
    });
    assert.equal(child.exitCode, null, `the proxy exited; stderr:\n${stderr}`);
  }
  for (const kind of ["http", "https", "h2tls", "sni", "tcp", "admin"] as const) await stillServes(kind);
});

test("the proxy is still running and logged no uncaught exception", () => {
  assert.equal(child.exitCode, null, stderr);
  assert.doesNotMatch(stderr, /uncaught|unhandled|TypeError|RangeError|ReferenceError|\n\s+at \S+ \(/i, stderr);
});

/** The ClientHello a real TLS client sends (captured by a plain TCP server), to cut short. */
function captureClientHello(servername?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createNetServer((s) => s.once("data", (d: Buffer) => { resolve(d); s.destroy(); server.close(); }));
    server.listen(0, "127.0.0.1", () => {
      const c = tlsConnect({ host: "127.0.0.1", port: (server.address() as { port: number }).port, servername, rejectUnauthorized: false });
      c.on("error", () => {});
      c.setTimeout(3000, () => { c.destroy(); reject(new Error("no ClientHello captured")); });
    });
  });
}
