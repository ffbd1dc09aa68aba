// The workload supervisor with real processes: sidecar ready first, app after, app's exit code kept, sidecar drained last.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { supervise } from "../../src/universal/supervisor.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-supervisor-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const app = (log: string, code: number) => ({
  command: process.execPath,
  args: ["-e", `require("fs").appendFileSync(${JSON.stringify(log)}, "app-start\\n"); setTimeout(() => process.exit(${code}), 200)`],
});

test("starts the app only once the sidecar is ready, returns the app's exit code, then drains the sidecar", async () => {
  const port = await freePort();
  const log = join(dir, "order.log");
  const code = await supervise({
    sidecar: { command: process.execPath, args: ["dist/test/universal/fixtures/ready-server.js", String(port), "400", log] },
    app: app(log, 3),
    readyUrl: `http://127.0.0.1:${port}/healthz/ready`,
    log: () => {},
  });
  assert.equal(code, 3);
  assert.deepEqual(readFileSync(log, "utf8").trim().split("\n"), ["sidecar-start", "app-start", "sidecar-sigterm"]);
});

test("a sidecar that never becomes ready keeps the app from starting", async () => {
  const port = await freePort();
  const log = join(dir, "never.log");
  const lines: string[] = [];
  const code = await supervise({
    sidecar: { command: process.execPath, args: ["dist/test/universal/fixtures/ready-server.js", String(port), "999999", log] },
    app: app(log, 0),
    readyUrl: `http://127.0.0.1:${port}/healthz/ready`,
    readyTimeoutMs: 1000,
    log: (l) => lines.push(l),
  });
  assert.equal(code, 1);
  assert.doesNotMatch(readFileSync(log, "utf8"), /app-start/);
  assert.match(lines.join("\n"), /did not become ready/);
});
