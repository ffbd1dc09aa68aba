// --trace-store DIR: traces survive a restart of `trellis control` (read back through Jaeger's query API), files are
// 0600 in a 0700 directory, the size bound drops the oldest segments, and a line cut by a crash is skipped, counted.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TraceDisk } from "../../src/telemetry/traces/trace-disk.js";
import { TraceStore } from "../../src/telemetry/traces/trace-store.js";
import type { OtlpBatch } from "../../src/xds/otlp-trace.js";
import { freePort } from "../../src/universal/workload-spec.js";
import { CliProcesses } from "../fixtures/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-trace-disk-"));
const processes = new CliProcesses();
after(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

function batch(i: number, padding = 0): OtlpBatch[] {
  const traceId = i.toString(16).padStart(32, "0");
  return [{ resource: { "service.name": "reviews.default" }, spans: [{ traceId, spanId: "00000000000000a1", parentSpanId: "", name: `op-${i}`, kind: 2, startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i), endTimeUnixNano: 1_700_000_000_005_000_000n + BigInt(i), attributes: { "http.status_code": "200", pad: "x".repeat(padding) }, statusCode: 0 }] }];
}

test("spans come back after a restart, exactly; files are 0600 in a 0700 directory", async () => {
  const where = join(dir, "unit");
  const disk = new TraceDisk(where, 8 * 1024 * 1024);
  const store = new TraceStore();
  store.persistTo(disk);
  for (let i = 1; i <= 20; i++) store.add(batch(i));
  await disk.close();
  assert.equal(statSync(where).mode & 0o777, 0o700);
  for (const f of readdirSync(where)) assert.equal(statSync(join(where, f)).mode & 0o777, 0o600, f);
  const again = new TraceStore();
  again.persistTo(new TraceDisk(where, 8 * 1024 * 1024));
  assert.equal(again.size.traces, 20);
  const t = again.get((7).toString(16).padStart(32, "0"))!;
  assert.equal(t.spans[0].operation, "op-7");
  assert.equal(t.spans[0].durationMs, 5);
  assert.deepEqual(again.services(), ["reviews.default"]);
});

test("the size bound drops whole oldest segments; a torn last line is skipped and counted", async () => {
  const where = join(dir, "bound");
  const disk = new TraceDisk(where, 1024 * 1024);
  const store = new TraceStore();
  store.persistTo(disk);
  // ~3 MiB into a 1 MiB bound.
  for (let i = 1; i <= 300; i++) store.add(batch(i, 10_000));
  await disk.close();
  const bytes = readdirSync(where).reduce((n, f) => n + statSync(join(where, f)).size, 0);
  assert.ok(bytes <= 1024 * 1024, `${bytes} bytes on disk`);
  assert.ok(disk.stats().droppedSegments > 0);
  const last = readdirSync(where).sort().at(-1)!;
  appendFileSync(join(where, last), '[{"resource":{"service.name":"cut');
  const reloaded = new TraceDisk(where, 1024 * 1024);
  const again = new TraceStore();
  again.persistTo(reloaded);
  assert.ok(again.get((300).toString(16).padStart(32, "0")), "the newest trace is kept");
  assert.equal(again.get((1).toString(16).padStart(32, "0")), undefined, "the oldest is gone");
  assert.equal(reloaded.stats().unreadableLines, 1);
  await reloaded.close();
});

async function control(state: string, api: number, otlp: number): Promise<void> {
  await processes.start(["control", "--state-dir", state, "--xds-port", "0", "--api-port", String(api), "--otlp-port", String(otlp), "--console-port", "0",
    "--trace-store", join(state, "traces"), "--jaeger-url", "http://jaeger.example:16686/"], /api listening/);
}

test("trellis control --trace-store: a trace taken over OTLP is still served by Jaeger's API after a restart", async () => {
  const state = join(dir, "cp");
  const [api, otlp] = [await freePort(), await freePort()];
  await control(state, api, otlp);
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const body = { resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "ratings.default" } }] }, scopeSpans: [{ spans: [
    { traceId, spanId: "00f067aa0ba902b7", name: "GET /ratings/0", kind: 2, startTimeUnixNano: String(Date.now() * 1e6), endTimeUnixNano: String(Date.now() * 1e6 + 3e6) },
  ] }] }] };
  const posted = await fetch(`http://127.0.0.1:${otlp}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(posted.status, 200, await posted.text());
  const settings = await (await fetch(`http://127.0.0.1:${api}/api/v1/traces/settings`)).json();
  assert.deepEqual(settings, { jaegerUrl: "http://jaeger.example:16686/" });
  await processes.stopAll();
  await control(state, api, otlp);
  const r = await fetch(`http://127.0.0.1:${api}/api/traces/${traceId}`);
  assert.equal(r.status, 200);
  const { data } = await r.json() as { data: Array<{ spans: Array<{ operationName: string; processID: string }>; processes: Record<string, { serviceName: string }> }> };
  assert.equal(data[0].spans[0].operationName, "GET /ratings/0");
  assert.equal(data[0].processes[data[0].spans[0].processID].serviceName, "ratings.default");
});
