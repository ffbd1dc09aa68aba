// The CSR API over real gRPC with TLS: a token-proven identity gets a certificate; the certificates do real mTLS.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createServer as tlsCreateServer, type TLSSocket } from "node:tls";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { addCaService, controlPlaneCredentials } from "../../src/control/ca/ca-service.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from "../../src/identity/ca-api.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-ca-svc-"));
let server: grpc.Server;
let client: grpc.Client;
let ca: CertificateAuthority;
let tokens: TokenIssuer;
/** What the service reports per decision; the control plane logs refusals as `CSR refused for PEER: REASON`. */
const decisions: Array<{ ok: boolean; reason?: string; peer: string }> = [];

before(async () => {
  ca = await CertificateAuthority.open({ dir: join(dir, "ca") });
  tokens = TokenIssuer.open(join(dir, "ca", "token-key"), ca.trustDomain);
  server = new grpc.Server();
  addCaService(server, ca, tokens, { onDecision: (d) => decisions.push(d) });
  const { credentials } = await controlPlaneCredentials(ca, 3600_000);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", credentials, (err, p) => (err ? reject(err) : resolve(p))));
  const Client = grpc.makeGenericClientConstructor(caServiceDefinition, "IstioCertificateService");
  // The client trusts only the mesh root and checks the server's name as Istio's agents do.
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(ca.rootsPem())), { "grpc.ssl_target_name_override": "istiod.istio-system.svc" });
});
after(() => {
  client?.close();
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

function createCertificate(req: CertificateRequest, token?: string): Promise<CertificateResponse> {
  const md = new grpc.Metadata();
  if (token) md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: CertificateRequest, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v: CertificateResponse) => void) => void>)
      .CreateCertificate(req, md, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function workloadCert(ns: string, sa: string) {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, [`spiffe://cluster.local/ns/${ns}/sa/${sa}`]);
  const res = await createCertificate({ csr, validity_duration: 3600 }, tokens.issue(ns, sa, 600));
  return { keyPem: keys.keyPem, chain: res.cert_chain };
}

test("a token-proven workload gets its certificate chain", async () => {
  const { chain } = await workloadCert("default", "bookinfo-productpage");
  assert.equal(chain.length, 2);
  assert.match(chain[0], /BEGIN CERTIFICATE/);
  assert.equal(chain[1], ca.rootsPem());
});

test("no token, a bad token, a CSR for another identity, one with extra names and one asking to be a CA are refused with the right status", async () => {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/reviews"]);
  await assert.rejects(createCertificate({ csr, validity_duration: 0 }), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED && /no bootstrap token/.test(e.details));
  await assert.rejects(createCertificate({ csr, validity_duration: 0 }, "a.b.c"), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
  await assert.rejects(createCertificate({ csr, validity_duration: 0 }, tokens.issue("default", "ratings", 60)),
    (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && /credential proves spiffe:\/\/cluster.local\/ns\/default\/sa\/ratings/.test(e.details));
  // Its own identity plus extra names (a DNS name, an IP, an email): refused, naming them, nothing signed.
  const extra = await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/reviews"], [{ type: "dns", value: "istiod.istio-system.svc" }, { type: "ip", value: "10.0.0.1" }, { type: "email", value: "a@example.com" }]);
  decisions.length = 0;
  let details = "";
  await assert.rejects(createCertificate({ csr: extra, validity_duration: 0 }, tokens.issue("default", "reviews", 60)), (e: grpc.ServiceError) => {
    details = e.details;
    return e.code === grpc.status.PERMISSION_DENIED;
  });
  assert.equal(details, "the CSR asks for names besides its identity (DNS:istiod.istio-system.svc, IP Address:10.0.0.1, email:a@example.com); a workload certificate carries only spiffe://cluster.local/ns/default/sa/reviews: request exactly that one URI SAN");
  // The reason the control plane logs is that text, with the caller's address.
  assert.deepEqual(decisions.map((d) => ({ ok: d.ok, reason: d.reason })), [{ ok: false, reason: details }]);
  assert.match(decisions[0].peer, /^(127\.0\.0\.1|\[?::ffff:127\.0\.0\.1\]?):\d+$/);
  // A CSR asking to be a CA (basicConstraints CA:TRUE) for its own identity: refused as an invalid request.
  const caTrue = await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/reviews"], [], [{ oid: "2.5.29.19", critical: true, value: Buffer.from([0x30, 0x03, 0x01, 0x01, 0xff]) }]);
  await assert.rejects(createCertificate({ csr: caTrue, validity_duration: 0 }, tokens.issue("default", "reviews", 60)),
    (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /asks for CA rights \(basicConstraints CA:TRUE\)/.test(e.details));
  assert.equal(decisions.filter((d) => d.ok).length, 0);
});

test("two issued certificates complete a mutual TLS handshake and each side sees the other's SPIFFE ID", async () => {
  const serverCert = await workloadCert("default", "reviews");
  const clientCert = await workloadCert("default", "productpage");
  const roots = ca.rootsPem();
  const tlsServer = tlsCreateServer({ key: serverCert.keyPem, cert: serverCert.chain[0], ca: roots, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end(`hello ${(s as TLSSocket).getPeerCertificate().subjectaltname}`);
  });
  await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
  try {
    const port = (tlsServer.address() as { port: number }).port;
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = tlsConnect({ host: "127.0.0.1", port, key: clientCert.keyPem, cert: clientCert.chain[0], ca: roots,
        // Mesh peers are checked by SPIFFE ID, not by host name.
        checkServerIdentity: (_host, cert) => (cert.subjectaltname === "URI:spiffe://cluster.local/ns/default/sa/reviews" ? undefined : new Error(`unexpected peer ${cert.subjectaltname}`)) }, () => {});
      let data = "";
      sock.on("data", (d) => (data += d));
      sock.on("end", () => resolve(data));
      sock.on("error", reject);
    });
    assert.equal(reply, "hello URI:spiffe://cluster.local/ns/default/sa/productpage");
  } finally {
    tlsServer.close();
  }
});
