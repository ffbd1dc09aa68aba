// A ServiceEntry with resolution DNS end to end: `trellis control --dns-resolver` pointing at a real DNS server the
// test runs on 127.0.0.1, a sidecar calling the external host through it, traffic following the DNS table, no peer
// metadata leaving the mesh, Istio's metrics naming the external host; the webhook's refusal of a bad entry; and TLS
// origination to an external HTTPS server by a DestinationRule's SIMPLE mode.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { get } from "../proxy/harness.js";
import { startDnsServer } from "../fixtures/dns-server.js";
import { freePort, sidecarBootstrap, until } from "./mesh-harness.js";
import { createRoot, generateKeyPair, signLeaf } from "../../src/identity/x509.js";

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

function startControl(args: string[], state = "state"): Promise<{ child: ChildProcess; api: string; xds: number }> {
  const child = spawn(process.execPath, ["dist/src/cli/main.js", "control", "--state-dir", join(dir, state), "--xds-port", "0", "--api-port", "0", "--otlp-port", "0", "--console-port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
  // The app dialled its local port; the external host is asked by its own name (the port is the default 80).
  assert.equal(seen.headers.host, "api.external.test");
  assert.equal(seen.headers["x-forwarded-host"], `127.0.0.1:${local}`);

  const metrics = (await get(`http://127.0.0.1:${sidecar.adminPort}/stats/prometheus`)).text;
  assert.match(metrics, /istio_requests_total\{reporter="source",source_workload="client-v1",[^}]*destination_service="api\.external\.test",destination_service_name="api\.external\.test",destination_service_namespace="default",[^}]*response_code="200",[^}]*\} [1-9]/);

  // The DNS table changes: within the records' 1 s TTL the sidecar follows it, with no config push.
  dns.records.set("backend.external.test", ["127.0.0.3"]);
  await until("traffic to move to the new address", async () => (await call())?.name === "second", 10_000);
  assert.ok((dns.queries.get("backend.external.test") ?? 0) >= 2, "the proxy asked the test's DNS server, again");
});

test("MESH_EXTERNAL with a DestinationRule's SIMPLE TLS: the sidecar originates TLS, checked against the rule's CA and the host name", async () => {
  const dns = await startDnsServer({ "secure.external.test": ["127.0.0.2"], "impostor.external.test": ["127.0.0.3"] }, 1);
  cleanup.push(() => dns.close());
  const rootKeys = await generateKeyPair();
  const rootPem = await createRoot("External CA", rootKeys, 3600_000);
  const leafKeys = await generateKeyPair();
  const cert = await signLeaf({ publicKey: leafKeys.publicKey, uris: [], dnsNames: ["secure.external.test"], lifetimeMs: 3600_000, issuerCertPem: rootPem, issuerKey: rootKeys.privateKey });
  const caFile = join(dir, "external-ca.pem");
  writeFileSync(caFile, rootPem);
  // One HTTPS server answering as two hosts: only secure.external.test is the name its certificate holds.
  const servers = ["127.0.0.2", "127.0.0.3"].map(() => createTlsServer({ cert, key: leafKeys.keyPem }, (req, res) => res.end(JSON.stringify({ name: "tls", headers: req.headers }))));
  await new Promise<void>((r) => servers[0].listen(0, "127.0.0.2", r));
  const port = (servers[0].address() as AddressInfo).port;
  await new Promise<void>((r) => servers[1].listen(port, "127.0.0.3", r));
  for (const s of servers) cleanup.push(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }));

  const cp = await startControl(["--dns-resolver", `127.0.0.1:${dns.port}`], "state-tls");
  const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", ...args, "--control", cp.api], { encoding: "utf8" });
  const yaml = ["secure", "impostor"].map((h) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${h}}
spec:
  hosts: [${h}.external.test]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${h}}
spec:
  host: ${h}.external.test
  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${caFile}}}
`).join("---\n");
  writeFileSync(join(dir, "tls.yaml"), yaml);
  const applied = cli("apply", "-f", join(dir, "tls.yaml"));
  assert.equal(applied.status, 0, applied.stderr);

  const [secure, impostor] = [await freePort(), await freePort()];
  const sidecar = await startProxy(sidecarBootstrap(cp.xds, "tls-client", { NAMESPACE: "default", SERVICE: "tls-client", LABELS: { app: "tls-client" }, INSTANCE_IP: "127.0.0.1",
    UPSTREAMS: [{ host: "secure.external.test", port: 80, localPort: secure }, { host: "impostor.external.test", port: 80, localPort: impostor }] }), { adminPort: 0, drainTimeoutMs: 100 });
  cleanup.unshift(() => sidecar.stop());
  await until("plain HTTP from the app to leave the sidecar as verified TLS", async () => (await get(`http://127.0.0.1:${secure}/`).catch(() => undefined))?.status === 200, 15_000);
  assert.equal((await get(`http://127.0.0.1:${secure}/`)).json().name, "tls");
  // The impostor's certificate is valid under the CA but does not name impostor.external.test: refused.
  let last = "";
  const refusedForTls = async () => {
    const r = await get(`http://127.0.0.1:${impostor}/`).catch(() => undefined);
    last = `${r?.status} ${r?.text}`;
    return r?.status === 503 && /SANs \(secure\.external\.test\) match none of the expected identities/.test(r.text);
  };
  await until("the impostor to be refused for its certificate", refusedForTls, 15_000).catch((err: Error) => { throw new Error(`${err.message}; last answer: ${last}`); });
});

test("trellis control refuses a --dns-resolver that is not an IP and port, and a bad dnsRefreshRate, naming them", () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", "control", "--state-dir", join(dir, "refused"), ...args], { encoding: "utf8", timeout: 20_000 });
  const badServer = run("--dns-resolver", "dns.example:53");
  assert.equal(badServer.status, 2);
  assert.match(badServer.stderr, /--dns-resolver "dns\.example:53" is not a DNS server; write an IP and port such as 127\.0\.0\.1:5353/);
  const mesh = join(dir, "bad-mesh.yaml");
  writeFileSync(mesh, "dnsRefreshRate: soon\noutboundTrafficPolicy: {mode: DENY}\n");
  const badMesh = run("--mesh-config", mesh);
  assert.equal(badMesh.status, 2);
  assert.match(badMesh.stderr, /dnsRefreshRate must be a positive duration such as "60s"/);
  assert.match(badMesh.stderr, /outboundTrafficPolicy must be \{mode: ALLOW_ANY\} or \{mode: REGISTRY_ONLY\}/);
});
