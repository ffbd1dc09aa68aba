// A proxy's CA client against the real CA service: first certificate, renewal at half-life, retry after refusal.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { addCaService, controlPlaneCredentials } from "../../src/control/ca/ca-service.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { CaClient, type WorkloadCertificate } from "../../src/identity/ca-client.js";
import { inspect } from "../../src/identity/x509.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-ca-client-"));
let server: grpc.Server;
let address: string;
let ca: CertificateAuthority;
let tokens: TokenIssuer;
const identity = { trustDomain: "cluster.local", namespace: "default", serviceAccount: "reviews" };

before(async () => {
  ca = await CertificateAuthority.open({ dir: join(dir, "ca"), maxTtlMs: 3600_000 });
  tokens = TokenIssuer.open(join(dir, "ca", "token-key"), ca.trustDomain);
  server = new grpc.Server();
  addCaService(server, ca, tokens);
  const { credentials } = await controlPlaneCredentials(ca, 3600_000);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", credentials, (err, p) => (err ? reject(err) : resolve(p))));
  address = `127.0.0.1:${port}`;
});
after(() => {
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

test("gets a certificate for its identity and renews it at half-life with a fresh key", async (t) => {
  // A 4 s certificate renews about 2 s after it was issued (the CA backdates notBefore by a minute for clock
  // skew, so the lifetime asked for here is counted from that backdated start).
  const client = new CaClient({ address, caRootsPem: ca.rootsPem(), token: () => tokens.issue("default", "reviews", 600), identity, ttlSeconds: 64 });
  t.after(() => client.close());
  const first = await client.start();
  assert.equal(inspect(first.certChainPem).subjectAltName, "URI:spiffe://cluster.local/ns/default/sa/reviews");
  const renewed = await new Promise<WorkloadCertificate>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no renewal within 15 s")), 15_000);
    client.once("certificate", (c: WorkloadCertificate) => { clearTimeout(timer); resolve(c); });
  });
  assert.notEqual(renewed.keyPem, first.keyPem);
  assert.ok(renewed.notAfter > first.notAfter);
});

test("a refused request reports why", async (t) => {
  const client = new CaClient({ address, caRootsPem: ca.rootsPem(), token: () => tokens.issue("default", "ratings", 600), identity });
  t.after(() => client.close());
  await assert.rejects(client.start(), /refused the CSR: the CSR asks for spiffe:\/\/cluster.local\/ns\/default\/sa\/reviews but the credential proves .*ratings/);
});
