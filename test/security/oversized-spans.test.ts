// Issue #25 item 6, replayed against a `trellis control` process: 60 OTLP spans carrying a 7 MB attribute each (the
// probe took the control plane from 806 to 1,228 MB). Attribute values are capped, the cuts are counted at
// /api/v1/traces/stats, and resident memory stays under a stated bound; the byte budget evicts old traces, counted.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TraceStore } from "../../src/telemetry/traces/trace-store.js";
import { CliProcesses } from "../fixtures/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-spans-"));
const procs = new CliProcesses();
let pid = 0;
let apiPort = 0;
let otlpPort = 0;
const BOUND_MB = 150;

before(async () => {
  const { child, match } = await procs.start(["control", "--state-dir", join(dir, "state"), "--xds-port", "0", "--api-port", "0", "--otlp-port", "0"], /api listening on [\d.]+:(\d+)[\s\S]*otlp listening on [\d.]+:(\d+)/);
  pid = child.pid!;
  apiPort = Number(match[1]);
  otlpPort = Number(match[2]);
});

after(async () => {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");

function batch(i: number, value: string): string {
  const span = { traceId: hex(i + 1, 32), spanId: hex(i + 1, 16), name: "GET /big", kind: 2, startTimeUnixNano: "1700000000000000000", endTimeUnixNano: "1700000000001000000", attributes: [{ key: "big", value: { stringValue: value } }] };
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "attacker" } }] }, scopeSpans: [{ spans: [span] }] }] });
}

test("60 spans of 7 MB are cut to the attribute cap, counted, and memory stays bounded", async () => {
  const value = "x".repeat(7 * 1024 * 1024);
  const before = rssMb();
  for (let i = 0; i < 60; i++) {
    const r = await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: batch(i, value) });
    assert.equal(r.status, 200, await r.text());
  }
  const grown = rssMb() - before;
  const stats = await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/traces/stats`)).json() as { spans: number; truncatedAttributes: number; bytes: number };
  assert.equal(stats.spans, 60);
  assert.equal(stats.truncatedAttributes, 60);
  assert.ok(stats.bytes < 2 * 1024 * 1024, `the store holds ${stats.bytes} bytes`);
  assert.ok(grown < BOUND_MB, `the control plane grew by ${grown.toFixed(0)} MB (bound ${BOUND_MB} MB)`);
  console.log(`# control plane RSS ${before.toFixed(0)} MB -> +${grown.toFixed(0)} MB after 60 spans of 7 MB`);
});

test("the byte budget evicts the oldest traces and counts them", () => {
  const store = new TraceStore(100_000, 1000, 64 * 1024);
  for (let i = 0; i < 40; i++) {
    store.add([{ resource: { "service.name": "s" }, spans: [{ traceId: hex(i + 1, 32), spanId: hex(1, 16), parentSpanId: "", name: "op", kind: 2, startTimeUnixNano: 1n, endTimeUnixNano: 2n, statusCode: 0, attributes: { v: "y".repeat(4000) } }] }]);
  }
  const s = store.stats();
  assert.ok(s.bytes <= 64 * 1024, `${s.bytes} bytes held`);
  assert.ok(s.evictedTraces > 0 && s.droppedSpans === s.evictedTraces, JSON.stringify(s));
  assert.equal(s.traces + s.evictedTraces, 40);
});
