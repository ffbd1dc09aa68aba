// The proxy's own HTTP/1.1 codec, downstream and upstream, driven with raw bytes: strict framing (what request
// smuggling relies on is refused), keep-alive and pipelining, chunked bodies and trailers, Expect: 100-continue,
// HTTP/1.0, HEAD, close-delimited and malformed upstream responses, pooled upstream connections.
import assert from "node:assert/strict";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { backend, httpListener, proxy, staticCluster, type Backend, type TestProxy } from "./harness.js";

let echoBody: Backend;
let raw: Server;
let rawReply = "";
let p: TestProxy;
const upstreamSockets = new Set<string>();

/** Writes `bytes` on a new connection and reads until the proxy closes it or `ms` pass (bounded). */
function exchange(port: number, bytes: string | Buffer[], ms = 1500): Promise<string> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, "127.0.0.1");
    let out = "";
    const timer = setTimeout(() => s.destroy(), ms);
    s.on("data", (d: Buffer) => (out += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    if (typeof bytes === "string") s.write(bytes, "latin1");
    else {
      // Parts sent apart, so a framing split across reads is exercised.
      let i = 0;
      const next = () => {
        if (i >= bytes.length || s.destroyed) return;
        s.write(bytes[i++]);
        setTimeout(next, 20);
      };
      next();
    }
  });
}

/** The JSON body of the last response in a reply with a content-length. */
function lastJson<T>(reply: string): T {
  return JSON.parse(reply.slice(reply.lastIndexOf("\r\n\r\n") + 4)) as T;
}

const statusOf = (reply: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0);

before(async () => {
  echoBody = await backend((req, res, b) => {
    upstreamSockets.add(`${req.socket.remotePort}`);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.url === "/chunked-trailers") {
        res.writeHead(200, { "content-type": "text/plain", trailer: "x-checksum" });
        res.write("part1;");
        res.write("part2");
        res.addTrailers({ "x-checksum": "abc123" });
        res.end();
        return;
      }
      const json = Buffer.from(JSON.stringify({ method: req.method, url: req.url, body: body.toString(), headers: req.headers, trailers: req.trailers }));
      res.writeHead(200, { "content-type": "application/json", "content-length": json.length, "x-hits": String(b.hits) });
      res.end(json);
    });
  });
  // An upstream that answers whatever it is told to, byte for byte, then closes.
  raw = createServer((s) => {
    s.once("data", () => s.end(rawReply, "latin1"));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  p = await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [
    { match: { prefix: "/raw" }, route: { cluster: "raw" } },
    { match: { prefix: "/" }, route: { cluster: "echo" } },
  ] }] }, undefined, { max_request_headers_kb: 8 })], [staticCluster("echo", [echoBody.port]), staticCluster("raw", [(raw.address() as AddressInfo).port])]);
});

after(async () => {
  await p.stop();
  await echoBody.close();
  raw.close();
});

test("framing that request smuggling relies on is refused with 400 and the connection closed", async () => {
  const port = p.port();
  const cases: Array<[string, string, number]> = [
    ["content-length and transfer-encoding", "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", 400],
    ["two different content-lengths", "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\ncontent-length: 5\r\n\r\nabcde", 400],
    ["a content-length that is not a number", "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +4\r\n\r\nabcd", 400],
    ["an unknown transfer coding", "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: gzip\r\n\r\n", 501],
    ["chunked twice", "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked, chunked\r\n\r\n", 501],
    ["transfer-encoding in HTTP/1.0", "POST / HTTP/1.0\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", 400],
    ["a bare LF inside a header line", "GET / HTTP/1.1\r\nhost: a\nx-injected: 1\r\n\r\n", 400],
    ["a folded header line", "GET / HTTP/1.1\r\nhost: a\r\nx-long: one\r\n two\r\n\r\n", 400],
    ["a space before the colon", "GET / HTTP/1.1\r\nhost : a\r\n\r\n", 400],
    ["a NUL in a value", "GET / HTTP/1.1\r\nhost: a\r\nx: a\u0000b\r\n\r\n", 400],
    ["two different hosts", "GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n", 400],
    ["no host in HTTP/1.1", "GET / HTTP/1.1\r\nx: y\r\n\r\n", 400],
    ["an invalid chunk size", "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400],
    ["a malformed request line", "GET /a b HTTP/1.1\r\nhost: a\r\n\r\n", 400],
    ["HTTP/2.0 in an HTTP/1 request line", "GET / HTTP/2.0\r\nhost: a\r\n\r\n", 505],
    ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n", 405],
  ];
  for (const [what, bytes, status] of cases) {
    const reply = await exchange(port, bytes);
    assert.equal(statusOf(reply), status, `${what}: ${reply.slice(0, 200)}`);
    assert.match(reply, /connection: close/i, what);
  }
  // The invalid chunk reached nobody, and the listener still serves.
  const ok = await exchange(port, "GET /after HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n");
  assert.equal(statusOf(ok), 200);
});

test("oversized heads get 431: too many bytes and too many fields", async () => {
  const big = await exchange(p.port(), `GET / HTTP/1.1\r\nhost: a\r\nx-big: ${"a".repeat(9000)}\r\n\r\n`);
  assert.equal(statusOf(big), 431);
  const many = await exchange(p.port(), `GET / HTTP/1.1\r\nhost: a\r\n${Array.from({ length: 101 }, (_, i) => `x-${i}: v`).join("\r\n")}\r\n\r\n`);
  assert.equal(statusOf(many), 431);
});

test("pipelined requests are answered in order on one keep-alive connection", async () => {
  const reply = await exchange(p.port(), "GET /one HTTP/1.1\r\nhost: a\r\n\r\nGET /two HTTP/1.1\r\nhost: a\r\n\r\nGET /three HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n");
  const urls = [...reply.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(urls, ["/one", "/two", "/three"]);
  assert.equal(reply.match(/HTTP\/1\.1 200/g)?.length, 3);
});

test("a chunked request body split across reads reaches the upstream whole, trailers included", async () => {
  const reply = await exchange(p.port(), [
    Buffer.from("POST /upload HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhel"),
    Buffer.from("lo\r\n6;ext=1\r\n world\r\n"),
    Buffer.from("0\r\nx-sum: 42\r\n\r\n"),
  ]);
  assert.equal(statusOf(reply), 200, reply);
  const body = lastJson<{ body: string; headers: Record<string, string>; trailers: Record<string, string> }>(reply);
  assert.equal(body.body, "hello world");
  assert.equal(body.headers["transfer-encoding"], "chunked");
  assert.equal(body.trailers["x-sum"], "42");
});

test("Expect: 100-continue is answered by the proxy and not forwarded", async () => {
  const reply = await exchange(p.port(), [
    Buffer.from("POST /expect HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n"),
    Buffer.from("body"),
  ]);
  assert.match(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  const json = lastJson<{ body: string; headers: Record<string, string> }>(reply);
  assert.equal(json.body, "body");
  assert.equal(json.headers.expect, undefined);
});

test("HTTP/1.0 closes after the response unless it asked for keep-alive", async () => {
  const closed = await exchange(p.port(), "GET /old HTTP/1.0\r\n\r\n", 3000);
  assert.equal(statusOf(closed), 200);
  assert.match(closed, /connection: close/i);
  const kept = await exchange(p.port(), "GET /old HTTP/1.0\r\nconnection: keep-alive\r\n\r\nGET /old2 HTTP/1.0\r\n\r\n", 3000);
  assert.equal(kept.match(/HTTP\/1\.1 200/g)?.length, 2);
  assert.match(kept, /connection: keep-alive/i);
});

test("an upstream's chunked response and its trailers pass through; HEAD gets no body", async () => {
  const reply = await exchange(p.port(), "GET /chunked-trailers HTTP/1.1\r\nhost: a\r\nte: trailers\r\nconnection: close\r\n\r\n");
  assert.equal(statusOf(reply), 200);
  assert.match(reply, /transfer-encoding: chunked/i);
  assert.match(reply, /part1;/);
  assert.match(reply, /\r\n0\r\nx-checksum: abc123\r\n\r\n$/);
  const head = await exchange(p.port(), "HEAD /h HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n");
  assert.equal(statusOf(head), 200);
  assert.match(head, /content-length: \d+/i);
  assert.ok(head.endsWith("\r\n\r\n"), "no body after a HEAD response's head");
});

test("upstream responses: close-delimited bodies are read to the end; a malformed one is a 503", async () => {
  rawReply = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the connection closes";
  const closeDelimited = await exchange(p.port(), "GET /raw HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n");
  assert.equal(statusOf(closeDelimited), 200);
  assert.match(closeDelimited, /until the connection closes/);
  rawReply = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\nabc";
  const smuggled = await exchange(p.port(), "GET /raw HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n");
  assert.equal(statusOf(smuggled), 503);
  rawReply = "garbage\r\n\r\n";
  const garbage = await exchange(p.port(), "GET /raw HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n");
  assert.equal(statusOf(garbage), 503);
});

test("sequential requests reuse one pooled upstream connection", async () => {
  upstreamSockets.clear();
  const reply = await exchange(p.port(), `${"GET /pooled HTTP/1.1\r\nhost: a\r\n\r\n".repeat(5)}GET /pooled HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`);
  assert.equal(reply.match(/HTTP\/1\.1 200/g)?.length, 6);
  assert.equal(upstreamSockets.size, 1, `upstream connections used: ${[...upstreamSockets].join(", ")}`);
});

test("a header to add whose name or value could split a head is refused with the config, naming it", async () => {
  const { compileRouteTable } = await import("../../src/proxy/http/route-table.js");
  const { parseMessage } = await import("../../src/xds/resource.js");
  const config = (key: string, value: string) => {
    const parsed = parseMessage<import("../../src/xds/generated/envoy/config/route/v3/RouteConfiguration.js").RouteConfiguration__Output>("envoy.config.route.v3.RouteConfiguration", {
      name: "r", virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "c" }, request_headers_to_add: [{ header: { key, value } }] }] }],
    });
    assert.ok(parsed.ok);
    return parsed.value;
  };
  assert.throws(() => compileRouteTable(config("x-ok", "a\r\nx-injected: 1")), /value of header x-ok holds a CR, LF or NUL/);
  assert.throws(() => compileRouteTable(config("x bad", "v")), /header name "x bad" is not a valid HTTP field name/);
  assert.doesNotThrow(() => compileRouteTable(config("x-ok", "fine value")));
});
