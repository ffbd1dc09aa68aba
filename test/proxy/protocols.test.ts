// Protocols through the proxy: HTTP/2 downstream, gRPC unary and streaming with trailers over an HTTP/2 cluster,
// raw TCP, HTTP/1.1 Upgrade, chunked bodies, and garbage that must not hurt the proxy.
import assert from "node:assert/strict";
import { connect as h2connect } from "node:http2";
import { connect, createServer } from "node:net";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { backend, echo, get, httpListener, proxy, staticCluster } from "./harness.js";
import { EchoClient, type Msg, startEchoServer } from "./grpc-echo.js";

// Run in the order pushed: clients, then proxies, then the servers behind them.
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); });

const H2_OPTIONS = { typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } } };
const all = (cluster: string, extra: Record<string, unknown> = {}) => ({ virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster, ...extra } }] }] });

test("HTTP/2 cleartext downstream to an HTTP/1.1 upstream", async () => {
  const b = await echo("b");
  const p = await proxy([httpListener("l", all("b"))], [staticCluster("b", [b.port])]);
  cleanup.push(() => p.stop(), () => b.close());
  const session = h2connect(`http://127.0.0.1:${p.port()}`);
  const body = await new Promise<string>((resolve, reject) => {
    const s = session.request({ ":path": "/h2", ":method": "GET" });
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", reject);
  });
  session.close();
  assert.equal(JSON.parse(body).path, "/h2");
});

test("gRPC unary, errors as trailers, and bidirectional streaming through an HTTP/2 cluster", async () => {
  const server = await startEchoServer("s1");
  const p = await proxy([httpListener("l", all("grpc"))], [staticCluster("grpc", [server.port], H2_OPTIONS)]);
  const client = new EchoClient(`127.0.0.1:${p.port()}`, grpc.credentials.createInsecure());
  cleanup.push(() => client.close(), () => p.stop(), () => server.close());
  const unary = (m: Msg) => new Promise<Msg>((resolve, reject) => (client as unknown as { Unary: (m: Msg, cb: (e: grpc.ServiceError | null, r: Msg) => void) => void }).Unary(m, (e, r) => (e ? reject(e) : resolve(r))));
  assert.deepEqual(await unary({ text: "hi", n: 1 }), { text: "s1:hi", n: 2 });
  await assert.rejects(unary({ text: "fail", n: 0 }), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && e.details === "asked to fail");
  const call = (client as unknown as { Chat: () => grpc.ClientDuplexStream<Msg, Msg> }).Chat();
  const got: Msg[] = [];
  const done = new Promise<void>((resolve, reject) => { call.on("data", (m: Msg) => got.push(m)); call.on("end", resolve); call.on("error", reject); });
  for (let i = 1; i <= 50; i++) call.write({ text: `m${i}`, n: i });
  call.end();
  await done;
  assert.equal(got.length, 50);
  assert.deepEqual(got[49], { text: "s1:m50", n: 100 });
});

test("gRPC requests get gRPC-shaped local replies (no healthy upstream -> UNAVAILABLE)", async () => {
  const p = await proxy([httpListener("l", all("nobody"))], [staticCluster("nobody", [], H2_OPTIONS)]);
  const client = new EchoClient(`127.0.0.1:${p.port()}`, grpc.credentials.createInsecure());
  cleanup.push(() => client.close(), () => p.stop());
  await assert.rejects(new Promise((resolve, reject) => (client as unknown as { Unary: (m: Msg, cb: (e: Error | null, r: Msg) => void) => void }).Unary({ text: "x", n: 0 }, (e, r) => (e ? reject(e) : resolve(r)))),
    (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
});

test("tcp_proxy relays bytes both ways and half-closes", async () => {
  const server = createServer((s) => { s.on("data", (d) => s.write(`echo:${d}`)); s.on("end", () => s.end("bye")); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const p = await proxy([{
    name: "tcp", address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    filter_chains: [{ filters: [{ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: "tcp", cluster: "echo" } }] }],
  }], [staticCluster("echo", [port])]);
  cleanup.push(() => p.stop(), () => new Promise<void>((r) => server.close(() => r())));
  const reply = await new Promise<string>((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port: p.port() }, () => { c.write("ping"); setTimeout(() => c.end(), 100); });
    let data = "";
    c.on("data", (d) => (data += d));
    c.on("end", () => resolve(data));
    c.on("error", reject);
  });
  assert.equal(reply, "echo:pingbye");
});

test("HTTP/1.1 Upgrade is forwarded when the route allows it, and bytes flow both ways", async () => {
  const up = await backend(() => {});
  let upstreamClosed: Promise<void> | undefined;
  up.server.on("upgrade", (req, socket) => {
    upstreamClosed = new Promise((r) => socket.once("close", () => r()));
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    socket.on("data", (d: Buffer) => socket.write(`ws:${d}`));
    // As WebSocket servers do, a peer's EOF ends the connection.
    socket.on("end", () => socket.end());
  });
  const p = await proxy([httpListener("l", all("ws"), undefined, { upgrade_configs: [{ upgrade_type: "websocket" }] })], [staticCluster("ws", [up.port])]);
  cleanup.push(() => p.stop(), () => up.close());
  const got = await new Promise<string>((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port: p.port() }, () => c.write("GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
    let data = "";
    c.on("data", (d) => {
      data += d;
      if (data.includes("\r\n\r\n") && !data.includes("ws:")) c.write("hello");
      if (data.includes("ws:hello")) { c.destroy(); resolve(data); }
    });
    c.on("error", reject);
    setTimeout(() => reject(new Error(`no upgrade reply: ${data}`)), 3000).unref();
  });
  assert.match(got, /^HTTP\/1.1 101/);
  // The client went away: the proxy must close its side of the tunnel too.
  await Promise.race([upstreamClosed, new Promise((_, reject) => setTimeout(() => reject(new Error("the upstream tunnel was left open")), 3000).unref())]);
});

test("chunked request bodies stream to the upstream and back", async () => {
  const up = await backend((req, res) => { const parts: Buffer[] = []; req.on("data", (d: Buffer) => parts.push(d)); req.on("end", () => res.end(`got ${Buffer.concat(parts).length}`)); });
  const p = await proxy([httpListener("l", all("u"))], [staticCluster("u", [up.port])]);
  cleanup.push(() => p.stop(), () => up.close());
  const r = await get(p.url("/upload"), { "transfer-encoding": "chunked" }, "POST", "x".repeat(200_000));
  assert.equal(r.text, "got 200000");
});

test("garbage, oversized headers and half-open connections get a clean error and the proxy keeps serving", async () => {
  const b = await echo("b");
  const p = await proxy([httpListener("l", all("b"))], [staticCluster("b", [b.port])]);
  cleanup.push(() => p.stop(), () => b.close());
  const raw = (payload: string) => new Promise<string>((resolve) => {
    const c = connect({ host: "127.0.0.1", port: p.port() }, () => c.write(payload));
    let data = "";
    c.on("data", (d) => (data += d));
    c.on("close", () => resolve(data));
    c.on("error", () => resolve(data));
    setTimeout(() => { c.destroy(); resolve(data); }, 2000).unref();
  });
  assert.match(await raw("NOT HTTP AT ALL\r\n\r\n"), /^HTTP\/1.1 400/);
  assert.match(await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`), /^HTTP\/1.1 431/);
  const half = connect({ host: "127.0.0.1", port: p.port() }, () => half.write("GET / HTTP/1.1\r\nHo"));
  half.on("error", () => {});
  await new Promise((r) => setTimeout(r, 100));
  half.destroy();
  assert.equal((await get(p.url("/still"))).json().path, "/still");
});
