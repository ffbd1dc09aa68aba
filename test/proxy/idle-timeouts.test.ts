// Stream idle timeouts as Envoy applies them: the connection manager's stream_idle_timeout, a route's idle_timeout
// overriding it (0 turns it off); a stream with no bytes either way for that long gets a 408 (flag SI) when nothing
// was answered yet, and is reset when a response had started. A stream that keeps moving is never cut. Also the
// connection manager's request_timeout: a request whose body has not all arrived by then gets a 408, on either codec.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect as h2connect } from "node:http2";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { backend, get, httpListener, proxy, staticCluster, type Backend, type TestProxy } from "./harness.js";

let slow: Backend;
let p: TestProxy;
const held: Array<() => void> = [];
const dir = mkdtempSync(join(tmpdir(), "trellis-idle-timeouts-"));
const accessLog = join(dir, "access.log");
const ACCESS_LOG = [{ name: "envoy.access_loggers.file", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: accessLog } }];

/** The access-log line for a path, once written (the file is written asynchronously). */
async function logLine(path: string): Promise<string> {
  const deadline = Date.now() + 3000;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(accessLog, "utf8");
    } catch {
      // Not created yet.
    }
    const line = text.split("\n").find((l) => l.includes(` ${path} `));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no access-log line for ${path} in:\n${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  slow = await backend((req, res) => {
    if (req.url === "/stall-before-headers") {
      held.push(() => res.destroy());
      return;
    }
    if (req.url === "/stall-mid-body") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first part;");
      held.push(() => res.destroy());
      return;
    }
    if (req.url?.startsWith("/trickle")) {
      // A chunk every 100 ms for 800 ms: never idle for 300 ms.
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const t = setInterval(() => {
        res.write(`chunk${n};`);
        if (++n === 8) {
          clearInterval(t);
          res.end("done");
        }
      }, 100);
      return;
    }
    if (req.url === "/upload") {
      // Answers only once the whole body is in: a request still arriving has no response yet.
      req.resume();
      req.on("end", () => res.end("uploaded"));
      return;
    }
    if (req.url === "/late") {
      setTimeout(() => res.end("late but fine"), 500);
      return;
    }
    res.end("ok");
  });
  p = await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [
    { match: { prefix: "/late" }, route: { cluster: "slow", idle_timeout: "0s" } },
    { match: { prefix: "/trickle" }, route: { cluster: "slow", idle_timeout: "0.3s" } },
    { match: { prefix: "/" }, route: { cluster: "slow", idle_timeout: "0.3s" } },
  ] }] }, undefined, { stream_idle_timeout: "0.2s", access_log: ACCESS_LOG })
  , httpListener("cx", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "slow", idle_timeout: "0s" } }] }] }, undefined, { common_http_protocol_options: { idle_timeout: "0.3s" } })
  , httpListener("rt", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "slow" } }] }] }, undefined, { request_timeout: "0.3s", access_log: ACCESS_LOG }),
  ], [staticCluster("slow", [slow.port])]);
});

after(async () => {
  for (const release of held) release();
  await p.stop();
  await slow.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a stream idle before any response gets 408 after the route's idle_timeout, and the upstream attempt is given up", async () => {
  const started = Date.now();
  const res = await get(p.url("/stall-before-headers"));
  assert.equal(res.status, 408);
  assert.equal(res.text, "stream timeout");
  assert.ok(Date.now() - started >= 250, "not before the timeout");
  assert.equal(p.proxy.stats.counter("http.l.downstream_rq_idle_timeout"), 1);
  assert.equal(p.proxy.stats.gaugeValue("cluster.slow.upstream_rq_active"), 0);
  assert.match(await logLine("/stall-before-headers"), /" 408 SI /);
});

test("a stream idle after its response started is reset", async () => {
  const outcome = await new Promise<string>((resolve) => {
    const req = request(p.url("/stall-mid-body"), (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve(`ended: ${body}`));
      res.on("aborted", () => resolve(`aborted after: ${body}`));
      res.on("error", () => resolve(`aborted after: ${body}`));
    });
    req.on("error", (e) => resolve(`error ${e.message}`));
    req.setTimeout(5000, () => req.destroy());
    req.end();
  });
  assert.equal(outcome, "aborted after: first part;");
  assert.match(await logLine("/stall-mid-body"), /" 200 SI /);
});

test("a response that keeps moving is not cut; idle_timeout 0 on a route turns the stream timeout off", async () => {
  const trickle = await get(p.url("/trickle"));
  assert.equal(trickle.status, 200);
  assert.equal(trickle.text, "chunk0;chunk1;chunk2;chunk3;chunk4;chunk5;chunk6;chunk7;done");
  // stream_idle_timeout is 200 ms, the upstream answers after 500 ms: only the route's 0 lets it through.
  const late = await get(p.url("/late"));
  assert.equal(late.status, 200);
  assert.equal(late.text, "late but fine");
});

test("request_timeout: a request whose body stops arriving gets 408 over HTTP/1.1 and HTTP/2; a whole request waits for its answer", async () => {
  const port = p.port("rt");
  // HTTP/1.1: 3 of the 10 body bytes the head announced, then nothing.
  const h1 = await new Promise<string>((resolve) => {
    const c = connect({ host: "127.0.0.1", port }, () => c.write("POST /upload HTTP/1.1\r\nHost: x\r\ncontent-length: 10\r\n\r\nabc"));
    let data = "";
    c.on("data", (d) => (data += d));
    c.on("close", () => resolve(data));
    c.on("error", () => resolve(data));
    setTimeout(() => c.destroy(), 5000).unref();
  });
  assert.match(h1, /^HTTP\/1.1 408 /);
  assert.match(h1, /request timeout$/);
  // HTTP/2: a stream that sends a first piece of its body and never ends it.
  const session = h2connect(`http://127.0.0.1:${port}`);
  const status = await new Promise<number>((resolve, reject) => {
    const s = session.request({ ":method": "POST", ":path": "/upload" }, { endStream: false });
    s.write("abc");
    s.on("response", (h) => resolve(Number(h[":status"])));
    s.on("error", reject);
    setTimeout(() => reject(new Error("no answer within 5 s")), 5000).unref();
  });
  session.close();
  assert.equal(status, 408);
  assert.equal(p.proxy.stats.counter("http.rt.downstream_rq_timeout"), 2);
  // The upstream takes 500 ms, longer than request_timeout, but the request was all in: it is not cut.
  const late = await get(p.url("/late", "rt"));
  assert.equal(late.status, 200);
  assert.equal(late.text, "late but fine");
});

test("connection idle_timeout: an HTTP/2 connection with no stream open for it is closed with GOAWAY, one with a stream in progress is not", async () => {
  const session = h2connect(`http://127.0.0.1:${p.port("cx")}`);
  const closed = new Promise<number>((resolve) => session.once("close", () => resolve(Date.now())));
  const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
  session.on("error", () => {});
  // The trickle takes 800 ms, longer than the 300 ms idle timeout: its open stream keeps the connection.
  const body = await new Promise<string>((resolve, reject) => {
    const s = session.request({ ":path": "/trickle" });
    let data = "";
    s.on("data", (d: Buffer) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", reject);
  });
  const lastStreamDone = Date.now();
  assert.equal(body, "chunk0;chunk1;chunk2;chunk3;chunk4;chunk5;chunk6;chunk7;done");
  await goaway;
  const at = await Promise.race([closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error("the idle connection was left open")), 3000).unref())]);
  assert.ok(at - lastStreamDone >= 250, "closed only after the idle timeout");
  assert.equal(p.proxy.stats.counter("http.cx.downstream_cx_idle_timeout"), 1);
});
