// Istio's egress tasks with real processes: a ServiceEntry for an external host (a server in a network namespace this
// test creates, reached over a veth pair: never a real external address), a workload calling it through its sidecar
// (explicit mode: the upstream's local port), and `trellis gateway` as the egress gateway. "Egress Gateways": the
// mesh VirtualService sends the call to the gateway, whose own route sends it out; "Egress TLS origination": the
// sidecar reaches the gateway over mesh mTLS (ISTIO_MUTUAL) and the gateway originates TLS to the external host's 443.
// Linux and root (network namespaces).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { freePort } from "../../src/universal/workload-spec.js";
import { createTestCa, issueCert } from "../fixtures/gateway-certs.js";
import { type ExternalHost, startExternalHost } from "../fixtures/external-netns.js";
import { GatewayMesh, httpGet } from "../fixtures/gateway-mesh.js";
import { until } from "../fixtures/until.js";

const skip = process.platform !== "linux" || process.getuid?.() !== 0 ? "the external host's network namespace needs Linux and root"
  : spawnSync("ip", ["-V"]).error ? "needs iproute2 (ip)" : false;

const dir = mkdtempSync(join(tmpdir(), "trellis-egress-"));
const mesh = new GatewayMesh(join(dir, "state"));
const HOST = "api.external.test";
const EGRESS = "istio-egressgateway.istio-system.svc.cluster.local";
let external: ExternalHost | undefined;
let caFile = "";
let local = 0;

after(async () => {
  await mesh.stop();
  await external?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const net = (kind: string, name: string, spec: unknown, namespace = "default") => ({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace }, spec });
type Echo = { tls: boolean; path: string; host: string; headers: Record<string, string> };
const callExternal = async (path: string): Promise<Echo | undefined> => {
  const r = await httpGet(local, HOST, path).catch(() => undefined);
  return r?.status === 200 ? (JSON.parse(r.body) as Echo) : undefined;
};

before(async () => {
  if (skip) return;
  const ca = await createTestCa("External Corp");
  const cert = await issueCert(ca, [HOST]);
  caFile = join(dir, "external-ca.crt");
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, "external.crt"), cert.certPem);
  writeFileSync(join(dir, "external.key"), cert.keyPem, { mode: 0o600 });
  external = await startExternalHost(dir, join(dir, "external.crt"), join(dir, "external.key"));
  await mesh.start();
  await mesh.apply(net("ServiceEntry", "api-external", {
    hosts: [HOST], location: "MESH_EXTERNAL", resolution: "STATIC", endpoints: [{ address: external.address }],
    ports: [{ number: 80, name: "http-port", protocol: "HTTP" }, { number: 443, name: "https-port", protocol: "HTTPS" }],
  }));
  local = await freePort();
  await mesh.run("sleep", "9999", "require('http').createServer((q, s) => s.end()).listen(process.env.PORT, '127.0.0.1', () => console.log('sleep ready'))", /sleep ready/, ["--upstream", `${HOST}:80=${local}`]);
  const [http, https] = [await freePort(), await freePort()];
  await mesh.gateway(["--name", "istio-egressgateway", "--labels", "istio=egressgateway", "--port", `80=${http}/HTTP`, "--port", `443=${https}/HTTPS`]);
});

test("Egress Gateways: the sidecar sends the external host's traffic to the egress gateway, which sends it out", { skip }, async () => {
  // Before any routing: the sidecar reaches the ServiceEntry host itself.
  await until("the external host answers through the sidecar", async () => (await callExternal("/direct")) !== undefined);
  assert.equal((await callExternal("/direct"))!.headers["x-egress-gateway"], undefined);
  await mesh.apply(net("Gateway", "istio-egressgateway", { selector: { istio: "egressgateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: [HOST] }] }));
  await mesh.apply(net("VirtualService", "direct-api-through-egress-gateway", {
    hosts: [HOST], gateways: ["istio-egressgateway", "mesh"],
    http: [
      { match: [{ gateways: ["mesh"], port: 80 }], route: [{ destination: { host: EGRESS, port: { number: 80 } } }] },
      { match: [{ gateways: ["istio-egressgateway"], port: 80 }], route: [{ destination: { host: HOST, port: { number: 80 } } }], headers: { request: { set: { "x-egress-gateway": "passed" } } } },
    ],
  }));
  await until("calls go through the egress gateway", async () => (await callExternal("/via-gateway"))?.headers["x-egress-gateway"] === "passed");
  const echo = (await callExternal("/via-gateway"))!;
  assert.equal(echo.host, HOST);
  assert.equal(echo.tls, false);
});

test("Egress TLS origination: mesh mTLS from the sidecar to the gateway (ISTIO_MUTUAL), TLS from the gateway to the external 443", { skip }, async () => {
  await mesh.apply(net("Gateway", "istio-egressgateway", { selector: { istio: "egressgateway" }, servers: [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: [HOST], tls: { mode: "ISTIO_MUTUAL" } }] }));
  await mesh.apply(net("DestinationRule", "egressgateway-for-api", { host: EGRESS, trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: "ISTIO_MUTUAL", sni: HOST } }] } }));
  await mesh.apply(net("DestinationRule", "originate-tls-for-api", { host: HOST, trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: "SIMPLE", sni: HOST, caCertificates: caFile } }] } }));
  await mesh.apply(net("VirtualService", "direct-api-through-egress-gateway", {
    hosts: [HOST], gateways: ["istio-egressgateway", "mesh"],
    http: [
      { match: [{ gateways: ["mesh"], port: 80 }], route: [{ destination: { host: EGRESS, port: { number: 443 } } }] },
      { match: [{ gateways: ["istio-egressgateway"], port: 443 }], route: [{ destination: { host: HOST, port: { number: 443 } } }], headers: { request: { set: { "x-egress-gateway": "tls-origination" } } } },
    ],
  }));
  const problems = await mesh.problems();
  let last = "";
  await until("the external host sees TLS from the gateway", async () => {
    const r = await httpGet(local, HOST, "/tls").catch((e: Error) => ({ status: 0, body: e.message }));
    last = `${r.status} ${r.body.slice(0, 300)}`;
    return r.status === 200 && (JSON.parse(r.body) as Echo).tls;
  }, 45_000).catch((e: Error) => { throw new Error(`${e.message}; last answer: ${last}; gateways: ${JSON.stringify(problems)}`); });
  const echo = (await callExternal("/tls"))!;
  assert.equal(echo.headers["x-egress-gateway"], "tls-origination");
  assert.equal(echo.path, "/tls");
});
