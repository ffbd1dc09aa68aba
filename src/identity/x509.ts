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

/** One subjectAltName entry, its kind spelled as OpenSSL and Node print it ("URI", "DNS", "IP Address", "email", ...). */
export interface SanEntry {
  type: "othername" | "email" | "DNS" | "X400Name" | "DirName" | "EdiPartyName" | "URI" | "IP Address" | "Registered ID";
  value: string;
}

export interface ParsedCsr {
  publicKey: CryptoKey;
  /** Every SAN the CSR asks for, of every kind, from every subjectAltName extension it carries, in order. */
  sans: SanEntry[];
  uris: string[];
  dnsNames: string[];
  /** Set when the CSR asks for CA rights: what asks ("basicConstraints CA:TRUE", "keyUsage keyCertSign"). */
  caRequest?: string;
}

const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
/** GeneralName's context tags 0-8 (RFC 5280 4.2.1.6), named as OpenSSL prints them. */
const SAN_KINDS: SanEntry["type"][] = ["othername", "email", "DNS", "X400Name", "DirName", "EdiPartyName", "URI", "IP Address", "Registered ID"];

interface Tlv {
  tag: number;
  body: Uint8Array;
}

/** The DER elements laid end to end in `b` (a SEQUENCE's content), read strictly: a short or bad length throws. */
function derElements(b: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < b.length) {
    const tag = b[i++];
    if ((tag & 0x1f) === 0x1f) throw new Error("multi-byte DER tags are not expected here");
    if (i >= b.length) throw new Error("truncated DER");
    let len = b[i++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || i + n > b.length) throw new Error("bad DER length");
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + b[i++];
    }
    if (i + len > b.length) throw new Error("truncated DER");
    out.push({ tag, body: b.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** The content of the single DER element `b` holds, checking its tag. */
function derOnly(b: Uint8Array, tag: number, what: string): Uint8Array {
  const els = derElements(b);
  if (els.length !== 1 || els[0].tag !== tag) throw new Error(`${what} is not valid DER`);
  return els[0].body;
}

function oidString(b: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const byte of b) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** Text a log line can carry: printable ASCII kept, anything else (newlines included) escaped as \xNN. */
function printable(b: Uint8Array | string): string {
  const s = typeof b === "string" ? b : Buffer.from(b).toString("latin1");
  return s.replace(/[^\x20-\x7e]|\\/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function ipString(b: Uint8Array): string {
  if (b.length === 4) return [...b].join(".");
  if (b.length === 16) return Array.from({ length: 8 }, (_, k) => ((b[2 * k] << 8) | b[2 * k + 1]).toString(16)).join(":");
  return Buffer.from(b).toString("hex");
}

/** Every GeneralName in a subjectAltName extension's value; none is skipped, whatever its kind. */
function generalNames(extnValue: Uint8Array): SanEntry[] {
  return derElements(derOnly(extnValue, 0x30, "a subjectAltName extension")).map(({ tag, body }) => {
    const n = tag & 0x1f;
    if ((tag & 0xc0) !== 0x80 || n >= SAN_KINDS.length) throw new Error(`a subjectAltName holds an element with tag 0x${tag.toString(16)}, not a GeneralName`);
    const type = SAN_KINDS[n];
    switch (type) {
      case "email": case "DNS": case "URI": return { type, value: printable(body) };
      case "IP Address": return { type, value: ipString(body) };
      case "Registered ID": return { type, value: oidString(body) };
      case "othername": {
        const id = derElements(body)[0];
        return { type, value: id?.tag === 0x06 ? oidString(id.body) : "?" };
      }
      case "DirName": {
        try {
          return { type, value: printable(new x509.Name(Uint8Array.from(body).buffer).toString()) };
        } catch {
          return { type, value: Buffer.from(body).toString("hex") };
        }
      }
      default: return { type, value: Buffer.from(body).toString("hex") };
    }
  });
}

/** What in a CSR's extensions asks for CA rights, if anything. */
function caRequestOf(extensions: Array<{ oid: string; value: Uint8Array }>): string | undefined {
  for (const e of extensions) {
    if (e.oid === OID_BASIC_CONSTRAINTS) {
      const first = derElements(derOnly(e.value, 0x30, "a basicConstraints extension"))[0];
      if (first?.tag === 0x01 && first.body[0]) return "basicConstraints CA:TRUE";
    }
    if (e.oid === OID_KEY_USAGE) {
      const bits = derOnly(e.value, 0x03, "a keyUsage extension");
      // bits[0] counts unused bits; keyCertSign is bit 5 and cRLSign bit 6 of the first byte (MSB first).
      if (bits.length > 1 && bits[1] & 0x04) return "keyUsage keyCertSign";
      if (bits.length > 1 && bits[1] & 0x02) return "keyUsage cRLSign";
    }
  }
  return undefined;
}

/**
 * The extensions a CSR requests, from every extensionRequest attribute and value (@peculiar/x509 reads only the
 * first of each, and skips SANs it cannot name, so a CSR could hide names from a check built on it).
 */
function requestedExtensions(csr: x509.Pkcs10CertificateRequest): Array<{ oid: string; value: Uint8Array }> {
  const out: Array<{ oid: string; value: Uint8Array }> = [];
  for (const attr of csr.attributes.filter((a) => a.type === OID_EXTENSION_REQUEST)) {
    for (const v of attr.values) {
      for (const ext of derElements(derOnly(new Uint8Array(v), 0x30, "an extensionRequest attribute"))) {
        if (ext.tag !== 0x30) throw new Error("an extensionRequest attribute holds something other than an extension");
        const [id, ...rest] = derElements(ext.body);
        const value = rest[rest.length - 1];
        if (id?.tag !== 0x06 || value?.tag !== 0x04) throw new Error("an extension in the CSR is not valid DER");
        out.push({ oid: oidString(id.body), value: value.body });
      }
    }
  }
  return out;
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
  let extensions;
  let sans: SanEntry[];
  let caRequest: string | undefined;
  try {
    extensions = requestedExtensions(csr);
    sans = extensions.filter((e) => e.oid === OID_SAN).flatMap((e) => generalNames(e.value));
    caRequest = caRequestOf(extensions);
  } catch (err) {
    throw new Error(`the CSR's extensions cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return {
    publicKey: await csr.publicKey.export(),
    sans,
    uris: sans.filter((n) => n.type === "URI").map((n) => n.value),
    dnsNames: sans.filter((n) => n.type === "DNS").map((n) => n.value),
    caRequest,
  };
}

/** SANs for a message: URIs (SPIFFE IDs) as they are, other kinds prefixed as OpenSSL prints them ("DNS:x"). */
export function formatSans(sans: SanEntry[]): string {
  return sans.map((s) => (s.type === "URI" ? s.value : `${s.type}:${s.value}`)).join(", ");
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
/**
 * What a leaf takes from its issuer (subject, authority key identifier), for the last issuer used: a CA signs many
 * leaves with one issuer, and parsing its certificate again per leaf was a tenth of the CA's CPU per certificate.
 */
let lastIssuer: { pem: string; subject: string; aki: Promise<x509.AuthorityKeyIdentifierExtension> } | undefined;

function issuerOf(pem: string): { subject: string; aki: Promise<x509.AuthorityKeyIdentifierExtension> } {
  if (lastIssuer?.pem !== pem) {
    const cert = new x509.X509Certificate(pem);
    lastIssuer = { pem, subject: cert.subject, aki: x509.AuthorityKeyIdentifierExtension.create(cert, false) };
    // A failed computation must not stay cached for the next leaf.
    lastIssuer.aki.catch(() => { if (lastIssuer?.pem === pem) lastIssuer = undefined; });
  }
  return lastIssuer;
}

export async function signLeaf(req: LeafRequest): Promise<string> {
  const issuer = issuerOf(req.issuerCertPem);
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
      await issuer.aki,
    ],
  });
  return cert.toString("pem") + "\n";
}

/**
 * Creates a CSR for `uris` with `keys` (what a proxy does; used by tests and by `trellis proxy`'s CA client).
 * `extraSans` and `extraExtensions` (raw DER extension values) exist for tests of what the CA must refuse.
 */
export async function createCsr(keys: KeyPairPem, uris: string[], extraSans: Array<{ type: "dns" | "ip" | "email"; value: string }> = [],
  extraExtensions: Array<{ oid: string; critical?: boolean; value: Uint8Array }> = []): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys: { publicKey: keys.publicKey, privateKey: keys.privateKey },
    signingAlgorithm: EC_P256,
    extensions: [
      new x509.SubjectAlternativeNameExtension([...uris.map((value) => ({ type: "url" as const, value })), ...extraSans]),
      ...extraExtensions.map((e) => new x509.Extension(e.oid, e.critical ?? false, Uint8Array.from(e.value))),
    ],
  });
  return csr.toString("pem") + "\n";
}

/** Node's view of a certificate, for expiry and chain checks. */
export function inspect(pem: string): X509Certificate {
  return new X509Certificate(pem);
}
