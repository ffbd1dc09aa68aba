// A workload's output is kept line by line with its container, in a 0600 file rotated at its bound.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, test } from "node:test";
import { LogFile, tee } from "./log-capture.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-logs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("lines split across chunks are kept whole, tagged with their container, and still printed", async () => {
  const path = join(dir, "w.log");
  const log = new LogFile(path);
  const from = new PassThrough();
  const out = new PassThrough();
  const printed: Buffer[] = [];
  out.on("data", (c: Buffer) => printed.push(c));
  tee(from, out, log, "app");
  from.write("hello wo");
  from.write("rld\r\nsecond");
  from.end();
  await new Promise((r) => from.once("end", r));
  await new Promise((r) => setImmediate(r));
  assert.equal(Buffer.concat(printed).toString(), "hello world\r\nsecond");
  const lines = readFileSync(path, "utf8").trim().split("\n");
  assert.deepEqual(lines.map((l) => l.replace(/^\S+ /, "")), ["app hello world", "app second"]);
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test("past its bound the file rotates to .1 and starts again, so it never grows without end", () => {
  const path = join(dir, "r.log");
  const log = new LogFile(path, 200);
  for (let i = 0; i < 10; i++) log.append("sidecar", `line ${i} ${"x".repeat(30)}`);
  assert.ok(statSync(path).size <= 200);
  assert.ok(statSync(`${path}.1`).size <= 200);
  assert.match(readFileSync(path, "utf8"), /line 9/);
});
