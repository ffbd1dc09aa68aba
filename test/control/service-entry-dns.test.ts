// A ServiceEntry with resolution DNS end to end: `trellis control --dns-resolver` pointing at a real DNS server the
// test runs on 127.0.0.1, a sidecar calling the external host through it, traffic following the DNS table, no peer
// metadata leaving the mesh, Istio's metrics naming the external host; and the webhook's refusal of a bad entry.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { get } from "../proxy/harness.js";
import { startDnsServer } from "../fixtures/dns-server.js";
import { freePort, sidecarBootstrap, until } from "./mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-se-dns-"));
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

/** An "external" service on one loopback address: answers its name and the headers it got. */
async function external(name: string, host: string, port: number): Promise<number> {
  const server: Server = createServer((req, res) => res.end(JSON.stringify({ name, headers: req.headers })));
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(port, host, () => resolve()); });
  cleanup.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return (server.address() as AddressInfo).port;
}

function startControl(args: string[]): Promise<{ child: ChildProcess; api: string; xds: number }> {
  const child = spawn(process.execPath, ["dist/src/cli/main.js", "control", "--state-dir", join(dir, "state"), "--xds-port", "0", "--api-port", "0", "--otlp-port", "0", "--console-port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  cleanup.unshift(() => new Promise<void>((r) => { if (child.exitCode !== null) return r(); child.once("exit", () => r()); child.kill("SIGTERM"); }));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const api = /api listening on (\S+)/.exec(out);
      const xds = /xds listening on \S+:(\d+)/.exec(out);
      if (api && xds) resolve({ child, api: api[1], xds: Number(xds[1]) });
    });
    child.once("exit", (code) => reject(new Error(`trellis control exited with ${code}`)));
  });
}

const ENTRY = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-api
spec:
  hosts: [api.external.test]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - {number: 80, name: http, protocol: HTTP}
  endpoints:
  - address: backend.external.test
`;

test("DNS ServiceEntry: traffic follows the test's DNS server, stays plaintext, carries no peer metadata, is measured by host", async () => {
  const dns = await startDnsServer({ "backend.external.test": ["127.0.0.2"] }, 1);
  cleanup.push(() => dns.close());
  const port = await external("first", "127.0.0.2", 0);
  await external("second", "127.0.0.3", port);
  const mesh = join(dir, "mesh.yaml");
  writeFileSync(mesh, "dnsRefreshRate: 1s\n");
  const cp = await startControl(["--dns-resolver", `127.0.0.1:${dns.port}`, "--mesh-config", mesh]);
  const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", ...args, "--control", cp.api], { encoding: "utf8" });

  // Istio's webhook refuses a DNS entry whose wildcard host it would have to resolve; the field is named.
  writeFileSync(join(dir, "bad.yaml"), ENTRY.replace("hosts: [api.external.test]", "hosts: ['*.external.test']").replace(/ {2}endpoints:\n.*\n/, ""));
  const bad = cli("apply", "-f", join(dir, "bad.yaml"));
  assert.equal(bad.status, 1, bad.stdout);
  assert.match(bad.stderr, /spec\.hosts\[0\].*must be a fully qualified name when resolution DNS has no endpoints/);

  writeFileSync(join(dir, "entry.yaml"), ENTRY.replace("protocol: HTTP}", `protocol: HTTP, targetPort: ${port}}`));
  const applied = cli("apply", "-f", join(dir, "entry.yaml"));
  assert.equal(applied.status, 0, applied.stderr);

  const local = await freePort();
  const sidecar = await startProxy(sidecarBootstrap(cp.xds, "client-v1", { NAMESPACE: "default", SERVICE: "client", SERVICE_ACCOUNT: "client", LABELS: { app: "client", version: "v1" }, INSTANCE_IP: "127.0.0.1", UPSTREAMS: [{ host: "api.external.test", port: 80, localPort: local }] }), { adminPort: 0, drainTimeoutMs: 100 });
  cleanup.unshift(() => sidecar.stop());
  const call = async () => {
    const r = await get(`http://127.0.0.1:${local}/status`).catch(() => undefined);
    return r?.status === 200 ? r.json() as { name: string; headers: Record<string, string> } : undefined;
  };
  await until("the external host to answer through the sidecar", async () => (await call())?.name === "first", 15_000);
  const seen = (await call())!;
  assert.equal(seen.headers["x-trellis-peer-metadata"], undefined, "peer metadata stays inside the mesh");
  assert.equal(seen.headers.host, `127.0.0.1:${local}`);

  const metrics = (await get(`http://127.0.0.1:${sidecar.adminPort}/stats/prometheus`)).text;
  assert.match(metrics, /istio_requests_total\{reporter="source",source_workload="client-v1",[^}]*destination_service="api\.external\.test",destination_service_name="api\.external\.test",destination_service_namespace="default",[^}]*response_code="200",[^}]*\} [1-9]/);

  // The DNS table changes: within the records' 1 s TTL the sidecar follows it, with no config push.
  dns.records.set("backend.external.test", ["127.0.0.3"]);
  await until("traffic to move to the new address", async () => (await call())?.name === "second", 10_000);
  assert.ok((dns.queries.get("backend.external.test") ?? 0) >= 2, "the proxy asked the test's DNS server, again");
});
