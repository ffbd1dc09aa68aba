// The exporters' queue under a collector that stalls or fails: memory stays within the queue bound, every span that
// cannot go is counted, adding never waits, and failures are logged at most once a window with the count since.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ExportQueue } from "./export-queue.js";
import { Stats } from "../stats/stats.js";
import type { OtlpSpan } from "../../xds/otlp-trace.js";

const STATS = { sent: "t.sent", dropped: "t.dropped", failed: "t.failed" };

function span(i: number): OtlpSpan {
  return { traceId: "1".repeat(32), spanId: i.toString(16).padStart(16, "0"), parentSpanId: "", name: "op", kind: 2, startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: {}, statusCode: 0 };
}

test("a stalled collector: the queue holds at most its bound, the rest is dropped and counted, add() never blocks", () => {
  const stats = new Stats();
  let sends = 0;
  // A send that never answers: the first full batch is in flight forever.
  const q = new ExportQueue(() => { sends++; return new Promise<void>(() => {}); }, stats, { stats: STATS, describe: "test", maxQueue: 1000, batch: 100, log: () => {} });
  for (let i = 0; i < 10_000; i++) q.add(span(i));
  assert.equal(sends, 1, "one send at a time");
  assert.equal(q.length, 1000);
  assert.equal(stats.counter("t.dropped"), 10_000 - 1000 - 100, "everything beyond the queue and the batch in flight is counted");
  assert.equal(stats.counter("t.sent"), 0);
  q.close();
});

test("an erroring collector: each failed batch counts its spans as dropped; one log line per window, with the count since", async () => {
  const stats = new Stats();
  const lines: string[] = [];
  const q = new ExportQueue(() => Promise.reject(new Error("HTTP 503")), stats, { stats: STATS, describe: "http://collector/v1/traces", batch: 10, logEveryMs: 60_000, log: (l) => lines.push(l) });
  for (let i = 0; i < 35; i++) q.add(span(i));
  await q.flush();
  assert.equal(stats.counter("t.failed"), 4, "three full batches and the rest");
  assert.equal(stats.counter("t.dropped"), 35);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /cannot export 10 spans to http:\/\/collector\/v1\/traces: HTTP 503 .*t\.dropped/);
  q.close();
  const again: string[] = [];
  const q2 = new ExportQueue(() => Promise.reject(new Error("refused")), stats, { stats: STATS, describe: "x", batch: 1, logEveryMs: 0, log: (l) => again.push(l) });
  q2.add(span(1));
  q2.add(span(2));
  await q2.flush();
  assert.equal(again.length, 2, "a zero window logs every failure");
  q2.close();
});

test("a collector that answers: batches go out in order and are counted as sent", async () => {
  const stats = new Stats();
  const got: string[] = [];
  const q = new ExportQueue(async (spans) => { got.push(...spans.map((s) => s.spanId)); }, stats, { stats: STATS, describe: "x", batch: 4 });
  for (let i = 0; i < 10; i++) q.add(span(i));
  await q.flush();
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => span(i).spanId));
  assert.equal(stats.counter("t.sent"), 10);
  assert.equal(stats.counter("t.dropped"), 0);
  q.close();
});
