// trellis control --health-config: a bad file is refused naming the field; a good one is what the telemetry API (and
// the console's Mesh page, which reads it) reports as the tolerances in force.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { freePort } from "../../src/universal/workload-spec.js";
import { CliProcesses } from "../fixtures/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-health-config-"));
const processes = new CliProcesses();
after(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

test("a bad --health-config is refused with the field to fix", () => {
  writeFileSync(join(dir, "bad.yaml"), "rate:\n- namespace: shop\n  tolerance:\n  - {code: '^404$', degraded: 200}\n");
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "control", "--state-dir", join(dir, "s1"), "--health-config", join(dir, "bad.yaml")], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--health-config rate\[0\]\.tolerance\[0\]\.degraded: must be a percentage/);
});

test("the tolerances in force are served to the console", async () => {
  writeFileSync(join(dir, "good.yaml"), "rate:\n- namespace: shop\n  kind: service\n  name: search\n  tolerance:\n  - {code: '^404$', protocol: http, degraded: 30, failure: 60}\n");
  const api = await freePort();
  await processes.start(["control", "--state-dir", join(dir, "s2"), "--xds-port", "0", "--api-port", String(api), "--otlp-port", "0", "--console-port", "0", "--health-config", join(dir, "good.yaml")], /api listening/);
  const view = await (await fetch(`http://127.0.0.1:${api}/api/v1/telemetry/health-config`)).json() as { rate: Array<{ name: string; tolerance: Array<{ code: string; failure: number }> }> };
  assert.equal(view.rate[0].name, "search");
  assert.deepEqual(view.rate[0].tolerance.map((t) => [t.code, t.failure]), [["^404$", 60]]);
});
