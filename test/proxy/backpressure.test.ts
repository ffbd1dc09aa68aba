// Backpressure through the proxy's HTTP/1.1 codec: a large response to a client that stops reading for a while must
// resume when the client's socket drains, and arrive whole (the proxy neither buffers it all nor stalls).
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, test } from "node:test";
import { backend, httpListener, proxy, staticCluster } from "./harness.js";

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

function pattern(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms); })]).finally(() => clearTimeout(timer));
}

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
