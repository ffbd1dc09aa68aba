// VirtualService tcp and tls routes end to end, as Istio's TCP traffic shifting and SNI routing tasks run them: real
// sidecars configured over ADS by an in-process control plane (no CA: plaintext between sidecars), a TCP echo service
// with two versions, and two TLS servers the mesh passes TLS through to untouched, chosen by the client's SNI.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { after, before, test } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { ControlPlane } from "../../src/app/control-plane.js";
import { EC_P256, generateKeyPair } from "../../src/identity/x509.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { freePort, sidecarBootstrap, until } from "./mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-l4-routes-"));
let cp: ControlPlane;
const servers: Server[] = [];
const proxies: RunningProxy[] = [];
let echoLocal = 0;
let tlsLocal = 0;
const certs: Record<string, { cert: string; key: string; fingerprint: string }> = {};

/** A self-signed certificate for one DNS name, as a TLS server outside the mesh's CA would hold. */
async function selfSigned(name: string): Promise<{ cert: string; key: string; fingerprint: string }> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01", name: `CN=${name}`, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000),
    signingAlgorithm: EC_P256, keys: { publicKey: keys.publicKey, privateKey: keys.privateKey },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }])],
  });
  const fingerprint = createHash("sha256").update(Buffer.from(cert.rawData)).digest("hex");
  return { cert: cert.toString("pem") + "\n", key: keys.keyPem, fingerprint };
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

/** A TCP echo that says which version answered. */
function echo(version: string): Promise<number> {
  return listen(createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => s.end(`${version} ${Buffer.concat(chunks).toString()}`));
    s.on("error", () => {});
  }));
}

/** Sends `text` through the mesh to tcp-echo, half-closes, and collects the answer ("closed" when cut off). */
function exchange(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port: echoLocal, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { s.destroy(); resolve("timeout"); }, 5_000);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(timer); resolve(chunks.length ? Buffer.concat(chunks).toString() : "closed"); });
    s.end(text);
  });
}

/**
 * A TLS client through the mesh with this SNI, verifying the server against the two backends' certificates and the
 * name: what the server said and the SHA-256 of the certificate it showed, or why the handshake failed.
 */
function reach(servername: string): Promise<{ text?: string; fingerprint?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port: tlsLocal, servername, ca: [certs.a.cert, certs.b.cert] });
    let text = "";
    let fingerprint: string | undefined;
    let error: string | undefined;
    const timer = setTimeout(() => s.destroy(new Error("timeout")), 5_000);
    s.on("secureConnect", () => { fingerprint = createHash("sha256").update(s.getPeerCertificate(true).raw).digest("hex"); });
    s.on("data", (d: Buffer) => (text += d));
    s.on("error", (err: Error) => (error = err.message));
    s.on("close", () => { clearTimeout(timer); resolve(fingerprint ? { text, fingerprint } : { error: error ?? "closed before the handshake" }); });
  });
}

async function apply(plural: string, kind: string, name: string, spec: Record<string, unknown>, method = "POST"): Promise<void> {
  const base = `http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/default/${plural}`;
  const res = await fetch(method === "PUT" ? `${base}/${name}` : base, {
    method, headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace: "default" }, spec }),
  });
  assert.ok(res.status === 200 || res.status === 201, `${kind} ${name}: ${res.status} ${await res.text()}`);
}

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, scrapeIntervalMs: 60_000, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  certs.a = await selfSigned("a.tls.example");
  certs.b = await selfSigned("b.tls.example");
  const tlsBackend = (name: string, c: { cert: string; key: string }) => listen(createTlsServer({ cert: c.cert, key: c.key }, (s) => {
    s.on("error", () => {});
    s.end(`${name} saw ${(s as unknown as { servername?: string }).servername ?? "-"}`);
  }));
  const apps = { "tcp-echo-v1": await echo("v1"), "tcp-echo-v2": await echo("v2"), "tls-a-v1": await tlsBackend("tls-a", certs.a), "tls-b-v1": await tlsBackend("tls-b", certs.b) };
  echoLocal = await freePort();
  tlsLocal = await freePort();
  const workloads: Array<[string, Record<string, unknown>]> = [
    ["sleep-v1", { LABELS: { app: "sleep", version: "v1" }, UPSTREAMS: [{ host: "tcp-echo", port: 9000, localPort: echoLocal }, { host: "*.tls.example", port: 443, localPort: tlsLocal }] }],
  ];
  for (const [id, app] of Object.entries(apps)) {
    const [service, version] = [id.slice(0, id.lastIndexOf("-")), id.slice(id.lastIndexOf("-") + 1)];
    const port = service === "tcp-echo" ? { port: 9000, name: "tcp", protocol: "TCP" } : { port: 8443, name: "tls", protocol: "TLS" };
    workloads.push([id, { SERVICE: service, LABELS: { app: service, version }, INBOUND_PORT: await freePort(), APP_PORT: app, SERVICE_PORTS: [port] }]);
  }
  for (const [id, m] of workloads) {
    proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, id, { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1", ...m }), { adminPort: 0, drainTimeoutMs: 100 }));
  }
  await apply("destinationrules", "DestinationRule", "tcp-echo", { host: "tcp-echo", subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] });
  await apply("serviceentries", "ServiceEntry", "tls-example", { hosts: ["*.tls.example"], ports: [{ number: 443, name: "tls", protocol: "TLS" }], resolution: "NONE", location: "MESH_EXTERNAL" });
  await until("the mesh to carry TCP", async () => /^v[12] mesh$/.test(await exchange("mesh")), 15_000);
});

after(async () => {
  for (const p of proxies) await p.stop();
  await cp?.stop();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a tcp route sends every connection to subset v2, then weights 80/20 share connections between v1 and v2", async () => {
  const route = (weights: Array<[string, number]>) => ({ hosts: ["tcp-echo"], tcp: [{ match: [{ port: 9000 }], route: weights.map(([subset, weight]) => ({ destination: { host: "tcp-echo.default.svc.cluster.local", subset, port: { number: 9000 } }, weight })) }] });
  await apply("virtualservices", "VirtualService", "tcp-echo", route([["v2", 100]]));
  // Without the route the service balances over both versions, so a run of 20 v2 answers shows the route in force.
  let streak = 0;
  await until("the tcp route to v2", async () => { streak = (await exchange("x")) === "v2 x" ? streak + 1 : 0; return streak >= 20; }, 15_000);
  for (let i = 0; i < 20; i++) assert.equal(await exchange(`n${i}`), `v2 n${i}`);

  await apply("virtualservices", "VirtualService", "tcp-echo", route([["v1", 80], ["v2", 20]]), "PUT");
  await until("the weighted route (a v1 answer)", async () => (await exchange("y")).startsWith("v1 "), 15_000);
  const counts: Record<string, number> = { v1: 0, v2: 0 };
  for (let i = 0; i < 50; i++) {
    const answer = await exchange(`w${i}`);
    assert.match(answer, new RegExp(`^v[12] w${i}$`));
    counts[answer.slice(0, 2)]++;
  }
  // Binomial(50, 0.2) for v2: mean 10; both bounds are more than four standard deviations out.
  assert.ok(counts.v2 >= 1 && counts.v2 <= 22 && counts.v1 >= 28, `80/20 expected, got ${JSON.stringify(counts)}`);
});

test("a tls route by sniHosts passes TLS through to the backend the SNI names; an unnamed SNI finds no chain", async () => {
  await apply("virtualservices", "VirtualService", "tls-sni", { hosts: ["*.tls.example"], tls: [
    { match: [{ port: 443, sniHosts: ["a.tls.example"] }], route: [{ destination: { host: "tls-a" } }] },
    { match: [{ port: 443, sniHosts: ["b.tls.example"] }], route: [{ destination: { host: "tls-b" } }] },
  ] });
  await until("the SNI routes", async () => (await reach("a.tls.example")).text === "tls-a saw a.tls.example", 15_000);
  for (let i = 0; i < 3; i++) {
    // The client verified the backend's own certificate for the name it asked: the proxy did not terminate TLS.
    assert.deepEqual(await reach("a.tls.example"), { text: "tls-a saw a.tls.example", fingerprint: certs.a.fingerprint });
    assert.deepEqual(await reach("b.tls.example"), { text: "tls-b saw b.tls.example", fingerprint: certs.b.fingerprint });
  }
  // No match applies to c: Istio adds no default chain once tls routes match, so the connection is closed unanswered.
  const c = await reach("c.tls.example");
  assert.ok(c.error && !c.text, `expected a refused handshake, got ${JSON.stringify(c)}`);
  // As Istio's webhook, the API refuses an SNI host the VirtualService's hosts do not cover.
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/default/virtualservices`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "stray-sni" }, spec: { hosts: ["*.tls.example"], tls: [{ match: [{ sniHosts: ["c.other.example"] }], route: [{ destination: { host: "tls-a" } }] }] } }),
  });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /SNI host \\"c\.other\.example\\" is not one of the VirtualService's hosts/);
});
