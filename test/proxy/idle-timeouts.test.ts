// Stream idle timeouts as Envoy applies them: the connection manager's stream_idle_timeout, a route's idle_timeout
// overriding it (0 turns it off); a stream with no bytes either way for that long gets a 408 (flag SI) when nothing
// was answered yet, and is reset when a response had started. A stream that keeps moving is never cut.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, test } from "node:test";
import { backend, get, httpListener, proxy, staticCluster, type Backend, type TestProxy } from "./harness.js";

let slow: Backend;
let p: TestProxy;
const held: Array<() => void> = [];

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
  ] }] }, undefined, { stream_idle_timeout: "0.2s" })], [staticCluster("slow", [slow.port])]);
});

after(async () => {
  for (const release of held) release();
  await p.stop();
  await slow.close();
});

test("a stream idle before any response gets 408 after the route's idle_timeout, and the upstream attempt is given up", async () => {
  const started = Date.now();
  const res = await get(p.url("/stall-before-headers"));
  assert.equal(res.status, 408);
  assert.equal(res.text, "stream timeout");
  assert.ok(Date.now() - started >= 250, "not before the timeout");
  assert.equal(p.proxy.stats.counter("http.l.downstream_rq_idle_timeout"), 1);
  assert.equal(p.proxy.stats.gaugeValue("cluster.slow.upstream_rq_active"), 0);
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
