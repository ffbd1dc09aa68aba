// What a sidecar refuses on its mutual-TLS inbound port, each with a log line naming the peer and the reason: a
// certificate from another CA (same SPIFFE ID), an expired certificate from the mesh's own CA, and no certificate.
// A valid mesh certificate is served. (The CA's own refusals: test/control/ca-service.test.ts.)
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/control/control-plane.js";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { CaClient } from "../../src/identity/ca-client.js";
import { generateKeyPair, importPrivateKey, signLeaf } from "../../src/identity/x509.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { backend, type Backend } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";
import { mtlsRequest } from "../fixtures/mtls-request.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-negative-certs-"));
const state = join(dir, "state");
let cp: ControlPlane;
let app: Backend;
let proxy: RunningProxy;
let inbound = 0;
let tokens: TokenIssuer;
const logs: string[] = [];
const originalError = console.error;
const ID = "spiffe://cluster.local/ns/default/sa/productpage";

before(async () => {
  console.error = (...args: unknown[]) => { logs.push(args.map(String).join(" ")); };
  cp = new ControlPlane({ stateDir: state, xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  tokens = TokenIssuer.open(join(state, "ca", "token-key"), "cluster.local");
  app = await backend((_req, res) => res.end("reviews"));
  inbound = await freePort();
  proxy = await startProxy(sidecarBootstrap(cp.ports.xds, "reviews-v1", { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1", MTLS_READY: true, SERVICE: "reviews", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v1" }, INBOUND_PORT: inbound, APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }] }),
    { adminPort: 0, drainTimeoutMs: 100, ca: { address: `127.0.0.1:${cp.ports.ca}`, rootsPem: readFileSync(join(state, "ca", "root-cert.pem"), "utf8"), token: () => tokens.issue("default", "reviews", 600) } });
  await until("the sidecar to be ready", async () => proxy.ready(), 10_000);
});

after(async () => {
  console.error = originalError;
  await proxy?.stop();
  await cp?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

function request(cert?: { cert: string; key: string }): Promise<string> {
  return mtlsRequest(inbound, cert);
}

async function meshCert(): Promise<{ cert: string; key: string }> {
  const c = new CaClient({ address: `127.0.0.1:${cp.ports.ca}`, caRootsPem: readFileSync(join(state, "ca", "root-cert.pem"), "utf8"), token: () => tokens.issue("default", "productpage", 600), identity: { trustDomain: "cluster.local", namespace: "default", serviceAccount: "productpage" } });
  try {
    const w = await c.request();
    return { cert: w.certChainPem, key: w.keyPem };
  } finally {
    c.close();
  }
}

/** Waits a little over the one-line-a-second limit, so each case gets its own line. */
async function refusedWith(cert: { cert: string; key: string } | undefined, reason: RegExp): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100));
  logs.length = 0;
  assert.doesNotMatch(await request(cert), /^HTTP\/1\.1 200/);
  await until("the refusal to be logged", async () => logs.some((l) => l.includes("refused TLS from 127.0.0.1:")), 3000);
  const line = logs.find((l) => l.includes("refused TLS from"))!;
  assert.match(line, reason, line);
  assert.doesNotMatch(line, /PRIVATE KEY/);
  originalError(`  logged: ${line}`);
}

test("a valid mesh certificate is served", async () => {
  assert.match(await request(await meshCert()), /^HTTP\/1\.1 200/);
});

test("a certificate from another CA, with the same SPIFFE ID, is refused and logged", async () => {
  const other = await CertificateAuthority.open({ dir: join(dir, "other-ca") });
  const keys = await generateKeyPair();
  const cert = await signLeaf({ publicKey: keys.publicKey, uris: [ID], lifetimeMs: 3600_000, ...other.signer() });
  await refusedWith({ cert, key: keys.keyPem }, /certificate|unknown ca|verify/i);
});

test("an expired certificate from the mesh's own CA is refused and logged", async () => {
  const keys = await generateKeyPair();
  const issuerKey = await importPrivateKey(readFileSync(join(state, "ca", "ca-key.pem"), "utf8"));
  const cert = await signLeaf({ publicKey: keys.publicKey, uris: [ID], lifetimeMs: 3600_000, notBefore: new Date(Date.now() - 7200_000), issuerCertPem: readFileSync(join(state, "ca", "ca-cert.pem"), "utf8"), issuerKey });
  await refusedWith({ cert, key: keys.keyPem }, /expired/i);
});

test("a client without a certificate is refused and logged", async () => {
  await refusedWith(undefined, /certificate/i);
});
