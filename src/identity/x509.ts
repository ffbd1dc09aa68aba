// X.509 primitives shared by the CA and the proxy: EC P-256 keys, roots, signed leaves, CSRs (via @peculiar/x509).
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate, webcrypto, randomBytes } from "node:crypto";

export type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const CLOCK_SKEW_MS = 60_000;

export interface KeyPairPem {
  keyPem: string;
  publicKey: CryptoKey;
  privateKey: CryptoKey;
}

export async function generateKeyPair(): Promise<KeyPairPem> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { keyPem: toPem(pkcs8, "PRIVATE KEY"), publicKey: keys.publicKey, privateKey: keys.privateKey };
}

/** Imports a PKCS#8 EC P-256 private key (the format Istio's ca-key.pem uses, or SEC1 "EC PRIVATE KEY"). */
export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const { createPrivateKey } = await import("node:crypto");
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error(`the CA key must be an EC P-256 key (got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ""}); Trellis signs with ECDSA P-256`);
  }
  const der = key.export({ format: "der", type: "pkcs8" });
  return webcrypto.subtle.importKey("pkcs8", der, EC_P256, true, ["sign"]) as Promise<CryptoKey>;
}

export function toPem(der: Buffer, label: string): string {
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Splits a PEM bundle into its certificates. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => p + "\n") ?? [];
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive
  return b.toString("hex");
}

export async function createRoot(org: string, keys: KeyPairPem, lifetimeMs: number): Promise<string> {
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=${org}`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + lifetimeMs),
    signingAlgorithm: EC_P256,
    keys: { publicKey: keys.publicKey, privateKey: keys.privateKey },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return cert.toString("pem") + "\n";
}

export interface ParsedCsr {
  publicKey: CryptoKey;
  uris: string[];
  dnsNames: string[];
  /** Every SAN that is not a URI ("dns:x", "ip:1.2.3.4", "email:a@b", ...). */
  otherSans: string[];
}

/** Parses and verifies a PKCS#10 CSR (its self-signature proves the requester holds the key). */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (err) {
    throw new Error(`the CSR is not a PEM-encoded PKCS#10 request: ${(err as Error).message}`, { cause: err });
  }
  if (!(await csr.verify())) throw new Error("the CSR's signature does not verify: it was not signed by the key it carries");
  const san = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension) as x509.SubjectAlternativeNameExtension | undefined;
  const names = san?.names.toJSON() ?? [];
  return {
    publicKey: await csr.publicKey.export(),
    uris: names.filter((n) => n.type === "url").map((n) => n.value),
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    otherSans: names.filter((n) => n.type !== "url").map((n) => `${n.type}:${n.value}`),
  };
}

export interface LeafRequest {
  publicKey: CryptoKey;
  uris: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  lifetimeMs: number;
  issuerCertPem: string;
  issuerKey: CryptoKey;
  /** Start of validity (default: now, backdated for clock skew); lifetimeMs then counts from it. */
  notBefore?: Date;
}

/** Signs a workload certificate: SPIFFE URI SAN, server and client auth, no CA rights. */
export async function signLeaf(req: LeafRequest): Promise<string> {
  const issuer = new x509.X509Certificate(req.issuerCertPem);
  const now = Date.now();
  const names: x509.JsonGeneralName[] = [...req.uris.map((value) => ({ type: "url" as const, value })), ...(req.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })), ...(req.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value }))];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "",
    issuer: issuer.subject,
    notBefore: req.notBefore ?? new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date((req.notBefore?.getTime() ?? now) + req.lifetimeMs),
    signingAlgorithm: EC_P256,
    publicKey: req.publicKey,
    signingKey: req.issuerKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      // Subject is empty, so the SAN must be critical (RFC 5280 4.2.1.6).
      new x509.SubjectAlternativeNameExtension(names, true),
      await x509.AuthorityKeyIdentifierExtension.create(issuer, false),
    ],
  });
  return cert.toString("pem") + "\n";
}

/** Creates a CSR for `uris` with `keys` (what a proxy does; used by tests and by `trellis proxy`'s CA client). */
/** A CSR for `uris`; `extraSans` (e.g. {type: "dns", value}) exist for tests of what the CA must refuse. */
export async function createCsr(keys: KeyPairPem, uris: string[], extraSans: Array<{ type: "dns" | "ip" | "email"; value: string }> = []): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys: { publicKey: keys.publicKey, privateKey: keys.privateKey },
    signingAlgorithm: EC_P256,
    extensions: [new x509.SubjectAlternativeNameExtension([...uris.map((value) => ({ type: "url" as const, value })), ...extraSans])],
  });
  return csr.toString("pem") + "\n";
}

/** Node's view of a certificate, for expiry and chain checks. */
export function inspect(pem: string): X509Certificate {
  return new X509Certificate(pem);
}
