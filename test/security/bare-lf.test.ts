// Issue #25 item 8: a request head whose lines end in a bare LF is answered 400 at once, as the README promises (before,
// the proxy waited for a CRLFCRLF that never comes and answered 408 after the 60 s head timeout).
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { backend, httpListener, proxy, staticCluster, type Backend, type TestProxy } from "../proxy/harness.js";

let app: Backend;
let p: TestProxy;

before(async () => {
  app = await backend((_req, res) => res.end("ok"));
  p = await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "u" } }] }] })], [staticCluster("u", [app.port])]);
});

after(async () => {
  await p?.stop();
  await app?.close();
});

/** Writes `raw` and returns the first response line (or what came before the 20 s bound). */
function send(raw: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(p.port(), "127.0.0.1");
    let buf = "";
    const timer = setTimeout(() => { s.destroy(); resolve(`nothing within 20 s: ${buf}`); }, 20_000);
    s.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes("\r\n")) { clearTimeout(timer); s.destroy(); resolve(buf.split("\r\n")[0]); }
    });
    s.on("error", () => {});
    s.write(raw);
  });
}

test("bare-LF heads are refused with 400 without waiting for the head timeout", async () => {
  for (const raw of ["GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\r\nHost: x\n\n", "GET / HTTP/1.1\nHost: x\r\n\r\n"]) {
    assert.match(await send(raw), /^HTTP\/1\.1 400/, JSON.stringify(raw));
  }
  assert.match(await send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), /^HTTP\/1\.1 200/, "a well-formed head is served");
});
