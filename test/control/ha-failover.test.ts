// Two control-plane replicas serving the same config (one --config-dir, as two replicas read one API server): a
// sidecar given both addresses connects to one; that replica is killed (SIGKILL) under steady traffic, and the sidecar
// reconnects to the other and resyncs while its last config keeps serving: no request fails.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { freePort } from "../../src/universal/workload-spec.js";
import { CliProcesses } from "../fixtures/cli-process.js";
import { until } from "../fixtures/until.js";

const DETAILS = "dist/examples/bookinfo/details.js";
const dir = mkdtempSync(join(tmpdir(), "trellis-ha-"));
const processes = new CliProcesses();
after(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function proxiesOn(api: number): Promise<string[]> {
  try {
    const res = await fetch(`http://127.0.0.1:${api}/debug/proxies`, { signal: AbortSignal.timeout(5_000) });
    return ((await res.json()) as Array<{ node: { id: string } }>).map((p) => p.node.id);
  } catch {
    return [];
  }
}

test("a replica killed under steady traffic: the sidecar fails over to the other and no request fails", async (t) => {
  const appPort = await freePort();
  const local = await freePort();
  const config = join(dir, "config");
  mkdirSync(config);
  // details runs outside the mesh at a fixed address, so both replicas know its endpoint from config alone.
  writeFileSync(join(config, "details.yaml"), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: details, namespace: default }
spec:
  hosts: [details.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${appPort} } }]
`);
  const app = spawn(process.execPath, [DETAILS], { env: { ...process.env, PORT: String(appPort) }, stdio: "ignore" });
  after(() => { app.kill("SIGKILL"); });
  const replicas: Array<{ name: string; xds: number; api: number; child: ChildProcess }> = [];
  for (const name of ["a", "b"]) {
    const [xds, api] = [await freePort(), await freePort()];
    const { child } = await processes.start(["control", "--state-dir", join(dir, name), "--config-dir", config, "--xds-port", String(xds), "--api-port", String(api), "--otlp-port", "0", "--console-port", "0"], /api listening/);
    replicas.push({ name, xds, api, child });
  }
  const xdsList = replicas.map((r) => `127.0.0.1:${r.xds}`).join(",");
  await processes.start(["run", "--service", "sleep", "--port", "9999", "--upstream", `details:9080=${local}`, "--xds", xdsList, "--state-dir", join(dir, "run"), "--", process.execPath, "-e", "setInterval(() => {}, 1 << 30)"], /upstreams details:9080/);
  const url = `http://127.0.0.1:${local}/details/0`;
  await until("the mesh to serve details", async () => (await fetch(url, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined))?.status === 200);

  // Steady traffic from here to the end: one request after another, every answer recorded.
  const answers: Array<number | string> = [];
  let running = true;
  const traffic = (async () => {
    while (running) {
      try {
        answers.push((await fetch(url, { signal: AbortSignal.timeout(10_000) })).status);
      } catch (err) {
        answers.push((err as Error).message);
      }
    }
  })();
  try {
    let connected: (typeof replicas)[number] | undefined;
    await until("the sidecar to show on one replica", async () => {
      for (const r of replicas) if ((await proxiesOn(r.api)).some((id) => id.startsWith("sleep-"))) connected = r;
      return connected !== undefined;
    });
    const other = replicas.find((r) => r !== connected)!;
    const before = answers.length;
    const killedAt = Date.now();
    connected!.child.kill("SIGKILL");
    await until(`the sidecar to reconnect to replica ${other.name}`, async () => (await proxiesOn(other.api)).some((id) => id.startsWith("sleep-")));
    t.diagnostic(`reconnected to replica ${other.name} within ${Date.now() - killedAt} ms of the kill (polled every 200 ms)`);
    // And it is configured there: traffic keeps flowing after the resync.
    const resynced = answers.length;
    await until("requests after the resync", async () => answers.length >= resynced + 20);
    assert.ok(answers.length - before >= 20, "traffic flowed across the failover");
  } finally {
    running = false;
    await traffic;
  }
  const failed = answers.filter((a) => a !== 200);
  t.diagnostic(`${answers.length} requests, ${failed.length} failed`);
  assert.deepEqual(failed, [], `${failed.length} of ${answers.length} requests failed`);
});
