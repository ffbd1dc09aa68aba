// Issue #25 item 8: the CA, asked over its gRPC port with a valid token, refuses a CSR on a 1024-bit RSA key (it
// signed one before) and signs one on a 2048-bit RSA key and on ECDSA P-256.
import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { webcrypto } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as x509 from "@peculiar/x509";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from "../../src/identity/ca-api.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-weak-keys-"));
let cp: ControlPlane;
let tokens: TokenIssuer;
let rootsPem: string;
const SPIFFE = "spiffe://cluster.local/ns/default/sa/ratings";

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  tokens = TokenIssuer.open(join(dir, "state", "ca", "token-key"), "cluster.local");
  rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
});

after(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function rsaCsr(bits: number): Promise<string> {
  const alg = { name: "RSASSA-PKCS1-v1_5", modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: alg, extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: SPIFFE }])] });
  return csr.toString("pem") + "\n";
}

function createCertificate(csr: string): Promise<CertificateResponse> {
  const Client = grpc.makeGenericClientConstructor(caServiceDefinition, "IstioCertificateService");
  const client = new Client(`127.0.0.1:${cp.ports.ca}`, grpc.credentials.createSsl(Buffer.from(rootsPem)), { "grpc.ssl_target_name_override": "istiod.istio-system.svc" });
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${tokens.issue("default", "ratings", 600)}`);
  return new Promise((resolve, reject) => {
    (client as unknown as { CreateCertificate(r: CertificateRequest, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: CertificateResponse) => void): void })
      .CreateCertificate({ csr, validity_duration: 3600 } as CertificateRequest, md, (e, r) => { client.close(); if (e) reject(e); else resolve(r); });
  });
}

test("a CSR on a 1024-bit RSA key is refused with the rule; 2048-bit RSA and P-256 are signed", async () => {
  await assert.rejects(createCertificate(await rsaCsr(1024)), (e: grpc.ServiceError) => {
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.match(e.details, /RSA key has 1024 bits; the CA signs RSA keys of 2048 bits or more/);
    return true;
  });
  assert.ok((await createCertificate(await rsaCsr(2048))).cert_chain.length >= 2);
  assert.ok((await createCertificate(await createCsr(await generateKeyPair(), [SPIFFE]))).cert_chain.length >= 2);
});
