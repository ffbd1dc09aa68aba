// Istio's outboundTrafficPolicy in transparent mode, as processes: trellis control with MeshConfig REGISTRY_ONLY,
// httpbin and a caller run with `trellis run --transparent`. The caller reaches httpbin by name (a registered
// service), is refused when it dials httpbin's workload address directly (no service claims it: BlackHoleCluster),
// gets through while a ServiceEntry with resolution NONE names that address, and once a Sidecar sets ALLOW_ANY
// (PassthroughCluster). Linux and root.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { originalDstUnavailable } from "../../src/native/original-dst.js";
import { trellisNamespaces } from "../../src/universal/netns.js";
import { freePort } from "../../src/universal/workload-spec.js";
import { until } from "../control/mesh-harness.js";

const skip = process.platform !== "linux" || process.getuid?.() !== 0 ? "transparent mode needs Linux and root"
  : spawnSync("iptables", ["--version"]).error ? "needs iptables (scripts/install-system-deps.sh)"
  : trellisNamespaces().length > 0 ? `Trellis namespaces exist already (${trellisNamespaces().join(", ")})`
  : originalDstUnavailable() ?? false;

const dir = mkdtempSync(join(tmpdir(), "trellis-outbound-policy-"));
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill("SIGTERM");
    await new Promise((r) => c.once("exit", r));
  }
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], ready: RegExp): Promise<RegExpExecArray> {
  const child = spawn(process.execPath, ["dist/src/cli/main.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no ${ready} from trellis ${args[0]} within 30 s: ${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-8000);
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); resolve(m); }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`trellis ${args[0]} exited with ${code}: ${out}`)); });
  });
}

test("REGISTRY_ONLY blackholes destinations no service claims; a NONE ServiceEntry or a Sidecar's ALLOW_ANY lets them through", { skip }, async () => {
  const [xds, api] = [await freePort(), await freePort()];
  const state = join(dir, "state");
  const mesh = join(dir, "mesh.yaml");
  writeFileSync(mesh, "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n");
  await start(["control", "--state-dir", state, "--xds-port", String(xds), "--api-port", String(api), "--otlp-port", "0", "--console-port", "0", "--mesh-config", mesh], /api listening/);
  const run = ["--transparent", "--publish", "--xds", `127.0.0.1:${xds}`, "--control", `127.0.0.1:${api}`, "--state-dir", state];
  await start(["run", "--service", "httpbin", "--labels", "version=v1", "--port", "8000", ...run, "--", process.execPath, "dist/test/fixtures/httpbin.js", "v1"], /httpbin v\d listening/);
  const client = await start(["run", "--service", "fortio", "--port", "8080", ...run, "--", process.execPath, "dist/test/fixtures/mesh-client.js"], /published on 127\.0\.0\.1:(\d+)[\s\S]*mesh client listening/);
  const call = async (url: string) => ((await (await fetch(`http://127.0.0.1:${client[1]}/call?url=${encodeURIComponent(url)}`, { signal: AbortSignal.timeout(30_000) })).json()) as Array<{ status: number; body: string }>)[0];

  await until("httpbin to answer by name", async () => (await call("http://httpbin:8000/get")).status === 200, 20_000);
  const proxies = (await (await fetch(`http://127.0.0.1:${api}/debug/proxies`)).json()) as Array<{ workload?: { service?: string; address: string } }>;
  const address = proxies.find((p) => p.workload?.service === "httpbin")!.workload!.address;
  const direct = `http://${address}:8000/get`;
  const refused = await call(direct);
  assert.equal(refused.status, 0, `the workload address is no registered service, so REGISTRY_ONLY refuses it: ${refused.body}`);

  // A ServiceEntry with resolution NONE registers the destination: REGISTRY_ONLY lets it through, by Host.
  const base = `http://127.0.0.1:${api}/apis/networking.istio.io/v1/namespaces/default`;
  const entry = { apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "direct", namespace: "default" }, spec: { hosts: [address], location: "MESH_EXTERNAL", resolution: "NONE", ports: [{ number: 8000, name: "http", protocol: "HTTP" }] } };
  const created = await fetch(`${base}/serviceentries`, { method: "POST", body: JSON.stringify(entry), headers: { "content-type": "application/json" } });
  assert.ok(created.ok, await created.text());
  await until("the ServiceEntry to open the way", async () => (await call(direct)).status === 200, 20_000);
  assert.ok((await fetch(`${base}/serviceentries/direct`, { method: "DELETE" })).ok);
  await until("the way to close again without the ServiceEntry", async () => (await call(direct)).status === 0, 20_000);

  const sidecar = { apiVersion: "networking.istio.io/v1", kind: "Sidecar", metadata: { name: "default", namespace: "default" }, spec: { outboundTrafficPolicy: { mode: "ALLOW_ANY" } } };
  const put = await fetch(`${base}/sidecars`, { method: "POST", body: JSON.stringify(sidecar), headers: { "content-type": "application/json" } });
  assert.ok(put.ok, await put.text());
  await until("the Sidecar's ALLOW_ANY to pass the workload address through", async () => (await call(direct)).status === 200, 20_000);
  assert.equal((await call("http://httpbin:8000/get")).status, 200);
});
