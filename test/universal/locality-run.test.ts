// Locality load balancing with real processes: `trellis control --mesh-config` with a MeshConfig localityLbSetting,
// and `trellis run --locality` for a caller and backends in two zones. The caller's sidecar weights the zones as
// the mesh config says from the caller's own zone.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { freePort } from "../../src/universal/workload-spec.js";
import { CliProcesses } from "../fixtures/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-locality-run-"));
const processes = new CliProcesses();
after(async () => {
  // SIGTERM lets each run stop its app and drain its sidecar; SIGKILL only what is still there after 5 s.
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a CLI process; resolves when its output matches `ready`. */
const start = async (args: string[], ready: RegExp, timeoutMs?: number): Promise<ChildProcess> => (await processes.start(args, ready, timeoutMs)).child;

async function zones(url: string, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i += 10) {
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(url, { signal: AbortSignal.timeout(5_000) }).then((r) => (r.ok ? r.text() : String(r.status)), () => "error")));
    for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
  }
  return counts;
}

test("trellis run --locality and MeshConfig distribute: the caller's zone gets 90% of its calls", async () => {
  const state = join(dir, "state");
  const meshFile = join(dir, "mesh.yaml");
  writeFileSync(meshFile, "localityLbSetting:\n  distribute:\n  - from: r1/za/*\n    to:\n      r1/za/*: 90\n      r1/zb/*: 10\n");
  const [xds, api, local] = [await freePort(), await freePort(), await freePort()];
  await start(["control", "--state-dir", state, "--xds-port", String(xds), "--api-port", String(api), "--otlp-port", "0", "--console-port", "0", "--mesh-config", meshFile], /api listening/);
  const mesh = ["--xds", `127.0.0.1:${xds}`, "--state-dir", state];
  const app = (zone: string) => `require("http").createServer((q, s) => s.end("${zone}")).listen(process.env.PORT, "127.0.0.1", () => console.log("${zone} listening"))`;
  await start(["run", "--service", "zoned", "--labels", "version=a", "--port", "8080", "--locality", "r1/za", ...mesh, "--", process.execPath, "-e", app("za")], /za listening/);
  await start(["run", "--service", "zoned", "--labels", "version=b", "--port", "8080", "--locality", "r1/zb", ...mesh, "--", process.execPath, "-e", app("zb")], /zb listening/);
  await start(["run", "--service", "caller", "--port", "9999", "--locality", "r1/za/rack1", "--upstream", `zoned:8080=${local}`, ...mesh, "--", process.execPath, "-e", "setInterval(() => {}, 1 << 30)"], /upstreams zoned:8080/);
  const url = `http://127.0.0.1:${local}/`;
  // Both backends registered and the weights arrived: a batch of 50 splits 45/5 (Envoy's weighted round robin).
  const end = Date.now() + 20_000;
  let last: Record<string, number> = {};
  while (Date.now() < end) {
    last = await zones(url, 50);
    if (last.za === 45 && last.zb === 5) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(last, { za: 45, zb: 5 });
  const many = await zones(url, 200);
  assert.ok(Math.abs((many.za ?? 0) - 180) <= 20 && (many.za ?? 0) + (many.zb ?? 0) === 200, JSON.stringify(many));
});
