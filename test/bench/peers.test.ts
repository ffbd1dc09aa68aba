// The benchmark's peers really carry what each scenario sends: every peer's chain (and single proxy) for HTTP/1.1,
// HTTP/2, gRPC and TCP is started from the same config code the benchmark uses, with one real request through it.
// Peers whose binaries are not installed here (scripts/install-peers.sh) are skipped, saying so.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request as h1Request } from "node:http";
import { connect as h2Connect } from "node:http2";
import { connect as tcpConnect } from "node:net";
import { Client, credentials } from "@grpc/grpc-js";
import { freePort, type Proc, start, waitForPort } from "../../bench/lib/processes.js";
import { GRPC_METHOD, payload } from "../../bench/lib/grpc-message.js";
import type { Chain, Peer } from "../../bench/peers/chain.js";
import { haproxy } from "../../bench/peers/haproxy.js";
import { nginx } from "../../bench/peers/nginx.js";
import { trellis } from "../../bench/peers/trellis.js";
import { trellisBookinfo } from "../../bench/peers/trellis-bookinfo.js";

const backends: Record<"h1" | "h2" | "grpc" | "echo", { port: number; proc?: Proc }> = { h1: { port: 0 }, h2: { port: 0 }, grpc: { port: 0 }, echo: { port: 0 } };

before(async () => {
  const scripts = { h1: "backend", h2: "h2-backend", grpc: "grpc-backend", echo: "echo-backend" } as const;
  await Promise.all(Object.entries(scripts).map(async ([key, script]) => {
    const port = await freePort();
    const proc = start(script, process.execPath, [`dist/bench/lib/${script}.js`], { PORT: String(port) });
    backends[key as keyof typeof backends] = { port, proc };
    await waitForPort(port);
  }));
});
after(async () => {
  await Promise.all(Object.values(backends).map((b) => b.proc?.stop()));
});

function getH1(port: number): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = h1Request({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 5000 }, (res) => {
      let bytes = 0;
      res.on("data", (d: Buffer) => (bytes += d.length));
      res.on("end", () => resolve({ status: res.statusCode!, bytes }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

function getH2(port: number): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const session = h2Connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({ ":path": "/" });
    let status = 0, bytes = 0;
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.on("data", (d: Buffer) => (bytes += d.length));
    stream.on("end", () => { session.close(); resolve({ status, bytes }); });
    stream.on("error", reject);
    stream.setTimeout(5000, () => stream.close());
    stream.end();
  });
}

function unary(port: number): Promise<Buffer> {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const same = (b: Buffer) => b;
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(GRPC_METHOD, same, same, payload(64), { deadline: Date.now() + 5000 }, (err, value) => (err ? reject(err) : resolve(value!)));
  }).finally(() => client.close());
}

function echo(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: "127.0.0.1", port }, () => socket.write(text));
    let got = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("timed out")));
    socket.on("data", (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) { socket.destroy(); resolve(got); }
    });
    socket.on("error", reject);
  });
}

async function through(peer: Peer, backendPort: number, options: Parameters<Peer["startChain"]>[1], check: (chain: Chain) => Promise<void>): Promise<void> {
  const chain = await peer.startChain(backendPort, options);
  try {
    await check(chain);
  } finally {
    await chain.stop();
  }
}

const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

for (const peer of [trellis, haproxy, nginx]) {
  describe(`bench peer ${peer.name}`, () => {
    it("serves HTTP/1.1 through two proxies", { skip: peer.available() }, async () => {
      await through(peer, backends.h1.port, { tls: false }, async (chain) => {
        assert.equal(chain.procs.length, 2);
        assert.deepEqual(await getH1(chain.entryPort), { status: 200, bytes: 1024 });
      });
    });

    it("serves HTTP/1.1 through one proxy pinned to CPU 0, whose pid is the proxy's", { skip: peer.available() ?? (hasTaskset ? undefined : "taskset is not installed") }, async () => {
      await through(peer, backends.h1.port, { tls: false, hops: 1, cpus: "0" }, async (chain) => {
        assert.equal(chain.procs.length, 1);
        assert.equal(chain.entryPort, chain.serverPort);
        assert.deepEqual(await getH1(chain.entryPort), { status: 200, bytes: 1024 });
        const status = readFileSync(`/proc/${chain.procs[0].child.pid}/status`, "utf8");
        assert.match(status, /Cpus_allowed_list:\s+0\n/);
        assert.doesNotMatch(readFileSync(`/proc/${chain.procs[0].child.pid}/comm`, "utf8"), /taskset/);
      });
    });

    it("serves HTTP/2 (h2c) through two proxies", { skip: peer.available("h2") }, async () => {
      await through(peer, backends.h2.port, { tls: false, protocol: "h2", http1BackendPort: backends.h1.port }, async (chain) => {
        assert.deepEqual(await getH2(chain.entryPort), { status: 200, bytes: 1024 });
      });
    });

    it("serves a gRPC unary call through two proxies", { skip: peer.available("grpc") }, async () => {
      await through(peer, backends.grpc.port, { tls: false, protocol: "grpc" }, async (chain) => {
        assert.deepEqual(await unary(chain.entryPort), payload(1024));
      });
    });

    it("carries a TCP stream through two proxies", { skip: peer.available("tcp") }, async () => {
      await through(peer, backends.echo.port, { tls: false, protocol: "tcp" }, async (chain) => {
        assert.equal(await echo(chain.entryPort, "hello through the chain"), "hello through the chain");
      });
    });
  });
}

describe("bench peer trellis-bookinfo", () => {
  it("serves HTTP/1.1 through the sidecar's outbound reviews listener", { skip: trellisBookinfo.available() }, async () => {
    await through(trellisBookinfo, backends.h1.port, { tls: false, hops: 1 }, async (chain) => {
      assert.deepEqual(await getH1(chain.entryPort), { status: 200, bytes: 1024 });
    });
  });

  it("refuses a chain it cannot be, naming what it is", { skip: trellisBookinfo.available() }, async () => {
    await assert.rejects(trellisBookinfo.startChain(backends.h1.port, { tls: false }), /only one plaintext HTTP\/1\.1 sidecar \(hops: 1/);
  });
});
