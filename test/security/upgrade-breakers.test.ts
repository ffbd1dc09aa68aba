// Issue #25 item 4, circuit breakers: a WebSocket upgrade counts against the cluster's breakers as any request does,
// through a real proxy with max_connections, max_pending_requests and max_requests of 1: the second upgrade is refused
// with 503 UO (stat, x-envoy-overloaded, access log), the open tunnel holds its slot until it closes, then frees it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { backend, get, httpListener, proxy, staticCluster, type Backend, type TestProxy } from "../proxy/harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-upgrade-cb-"));
const accessLog = join(dir, "access.log");
const FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
let app: Backend;
let p: TestProxy;
const open: Socket[] = [];

before(async () => {
  app = await backend((_req, res) => res.end("plain"));
  app.server.on("upgrade", (_req, socket) => {
    socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n");
    socket.on("data", (d: Buffer) => socket.write(d));
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
  });
  const routes = { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/cx/" }, route: { cluster: "cx" } }, { match: { prefix: "/" }, route: { cluster: "ws" } }] }] };
  const hcm = { upgrade_configs: [{ upgrade_type: "websocket" }], access_log: [{ name: "envoy.access_loggers.file", typed_config: { "@type": FILE_LOG, path: accessLog, log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\n" } } } }] };
  const breakers = { circuit_breakers: { thresholds: [{ max_connections: 1, max_pending_requests: 1, max_requests: 1 }] } };
  const cxOnly = { circuit_breakers: { thresholds: [{ max_connections: 1 }] } };
  p = await proxy([httpListener("l", routes, undefined, hcm)], [staticCluster("ws", [app.port], breakers), staticCluster("cx", [app.port], cxOnly)]);
});

after(async () => {
  for (const s of open) s.destroy();
  await p?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a WebSocket-style upgrade; resolves with the reply's head and the socket (left open when it is a 101). */
function upgrade(path: string): Promise<{ head: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const s = connect(p.port(), "127.0.0.1");
    open.push(s);
    let buf = "";
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no upgrade reply within 10 s: ${buf}`)); }, 10_000);
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      s.removeAllListeners("data");
      resolve({ head: buf.slice(0, end), socket: s });
    });
    s.on("error", () => {});
    s.write(`GET ${path} HTTP/1.1\r\nhost: chat\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  });
}

/** Sends "ping" through an open tunnel and waits for the echo. */
function echoes(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(""), 10_000);
    s.once("data", (d: Buffer) => { clearTimeout(timer); resolve(d.toString()); });
    s.write("ping");
  });
}

/** Bounded wait for a condition, polled. */
async function until(what: string, check: () => boolean, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const log = () => { try { return readFileSync(accessLog, "utf8"); } catch { return ""; } };

test("a second WebSocket over a breaker of 1 is refused with 503 UO while the first tunnel holds the slot", async () => {
  const first = await upgrade("/one");
  assert.match(first.head, /^HTTP\/1\.1 101 /, first.head);
  assert.equal(await echoes(first.socket), "ping");

  const second = await upgrade("/two");
  assert.match(second.head, /^HTTP\/1\.1 503 /, second.head);
  assert.match(second.head, /x-envoy-overloaded: true/i);
  assert.equal(p.proxy.stats.counter("cluster.ws.upstream_rq_pending_overflow"), 1);
  await until("the refused upgrade's access log line", () => /^\/two 503 UO$/m.test(log()));

  // An ordinary request is refused too: the tunnel is an active request of the cluster for as long as it is open.
  const plain = await get(p.url("/plain"));
  assert.equal(plain.status, 503);
  assert.equal(plain.headers["x-envoy-overloaded"], "true");
  assert.equal(p.proxy.stats.counter("cluster.ws.upstream_rq_pending_overflow"), 2);
  assert.equal(await echoes(first.socket), "ping", "the first tunnel still works");

  // Closed, the tunnel gives its slot back: a new WebSocket goes through.
  first.socket.end();
  await until("the first tunnel's access log line", () => /^\/one 101 -?$/m.test(log()));
  const third = await upgrade("/three");
  assert.match(third.head, /^HTTP\/1\.1 101 /, third.head);
  assert.equal(await echoes(third.socket), "ping");
  third.socket.end();
});

test("with only max_connections at 1, the tunnel's kept connection refuses a second upgrade as cx overflow", async () => {
  const first = await upgrade("/cx/one");
  assert.match(first.head, /^HTTP\/1\.1 101 /, first.head);
  const second = await upgrade("/cx/two");
  assert.match(second.head, /^HTTP\/1\.1 503 /, second.head);
  assert.equal(p.proxy.stats.counter("cluster.cx.upstream_cx_overflow"), 1);
  assert.equal(p.proxy.stats.counter("cluster.cx.upstream_rq_pending_overflow"), 0);
  await until("the refused upgrade's access log line", () => /^\/cx\/two 503 UO$/m.test(log()));
  first.socket.end();
  await until("the first tunnel's access log line", () => /^\/cx\/one 101 -?$/m.test(log()));
  const third = await upgrade("/cx/three");
  assert.match(third.head, /^HTTP\/1\.1 101 /, third.head);
  third.socket.end();
});
