// Issue #25 item 5, replayed against a `trellis control` process: eight streams each carrying a 64 KB gzip message
// that inflates to 64 MB, sent before any token, on the plaintext xDS port and the CA port. Each is refused for its
// size (RESOURCE_EXHAUSTED) and the control plane's resident memory stays under a stated bound.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, constants } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { CliProcesses } from "../fixtures/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-grpc-bomb-"));
const procs = new CliProcesses();
let pid = 0;
let xdsPort = 0;
let caPort = 0;
/** Resident memory the control plane may grow by under the attack (before the fix it grew by ~600 MB). */
const BOUND_MB = 150;

before(async () => {
  const { child, match } = await procs.start(["control", "--state-dir", join(dir, "state"), "--xds-port", "0", "--api-port", "0", "--ca-port", "0", "--otlp-port", "0"], /xds listening on [\d.]+:(\d+)[\s\S]*ca listening on [\d.]+:(\d+)/);
  pid = child.pid!;
  xdsPort = Number(match[1]);
  caPort = Number(match[2]);
});

after(async () => {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

function rssMb(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) / 1024;
}

const bomb = (() => {
  const gz = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  const frame = Buffer.alloc(5 + gz.length);
  frame.writeUInt8(1, 0); // compressed
  frame.writeUInt32BE(gz.length, 1);
  gz.copy(frame, 5);
  return frame;
})();

/** Opens `count` ADS streams on one connection, each sending the bomb; resolves with each stream's grpc-status. */
function attack(url: string, count: number): Promise<string[]> {
  const session = connect(url, { rejectUnauthorized: false });
  session.on("error", () => {});
  return Promise.all(Array.from({ length: count }, () => new Promise<string>((resolve) => {
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST", [constants.HTTP2_HEADER_PATH]: "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
      "content-type": "application/grpc", "grpc-encoding": "gzip", te: "trailers",
    });
    const timer = setTimeout(() => { stream.close(); resolve("no answer in 20 s"); }, 20_000);
    const done = (s: string) => { clearTimeout(timer); resolve(s); };
    stream.on("response", (h) => { if (h["grpc-status"] !== undefined) done(String(h["grpc-status"])); });
    stream.on("trailers", (t) => done(String(t["grpc-status"])));
    stream.on("error", (e) => done(`error ${e.message}`));
    stream.on("data", () => {});
    stream.end(bomb);
  }))).finally(() => session.close());
}

test("gzip bombs before authentication are refused for their size, and memory stays bounded", async () => {
  const before = rssMb();
  for (const url of [`http://127.0.0.1:${xdsPort}`, `https://127.0.0.1:${caPort}`]) {
    const statuses = await attack(url, 8);
    assert.deepEqual(statuses, Array(8).fill("8"), `${url}: every stream RESOURCE_EXHAUSTED`);
  }
  const grown = rssMb() - before;
  assert.ok(grown < BOUND_MB, `the control plane grew by ${grown.toFixed(0)} MB (bound ${BOUND_MB} MB)`);
  console.log(`# control plane RSS ${before.toFixed(0)} MB -> +${grown.toFixed(0)} MB under 16 gzip bombs`);
});
