// TLS contexts (envoy.transport_sockets.tls) compiled per config: certificates and trust from inline data, files or
// SDS secret names, and SAN matchers; the material is read when a connection starts, so rotated secrets apply to
// new connections without touching the ones open.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PeerCertificate } from "node:tls";
import type { CommonTlsContext__Output } from "../../xds/generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.js";
import type { DataSource__Output } from "../../xds/generated/envoy/config/core/v3/DataSource.js";
import type { CertificateValidationContext__Output } from "../../xds/generated/envoy/extensions/transport_sockets/tls/v3/CertificateValidationContext.js";
import type { Secret__Output } from "../../xds/generated/envoy/extensions/transport_sockets/tls/v3/Secret.js";
import { compileStringMatcher, type Predicate } from "../matchers/string-matcher.js";
import { refuseFileSource } from "../config/config-source.js";

export interface SecretMaterial {
  certChainPem?: string;
  keyPem?: string;
  caPem?: string;
  /** The root that issued certChainPem, when the provider knows it (shown by /certs, checked by root rotation). */
  issuerRootPem?: string;
}

/**
 * Secrets by SDS name ("default" and "ROOTCA" in Istio), from the proxy's certificate provider or SDS over ADS.
 * `want` is told each name a config refers to, so the proxy can subscribe to it.
 */
export type SecretLookup = ((name: string) => SecretMaterial | undefined) & { want?(name: string): void };

export interface TlsMaterial {
  cert?: string;
  key?: string;
  ca?: string;
  alpn: string[];
  /** Checks the peer's URI/DNS SANs; undefined when no SAN matchers are configured. */
  verifySan?: (cert: PeerCertificate) => Error | undefined;
}

function data(d: DataSource__Output | null | undefined, where: string): string | undefined {
  if (!d) return undefined;
  if (d.inline_string) return d.inline_string;
  if (d.inline_bytes?.length) return Buffer.from(d.inline_bytes).toString("utf8");
  if (d.filename) {
    try {
      return readFileSync(d.filename, "utf8");
    } catch (err) {
      throw new Error(`${where}: cannot read ${d.filename}: ${(err as Error).message}`, { cause: err });
    }
  }
  return undefined;
}

/** URI and DNS names from a peer certificate's subjectaltname ("URI:spiffe://..., DNS:x"). */
export function sanEntries(cert: PeerCertificate): Array<{ type: "URI" | "DNS"; value: string }> {
  return (cert.subjectaltname ?? "").split(/,\s*/).map((s) => {
    const i = s.indexOf(":");
    return { type: s.slice(0, i) as "URI" | "DNS", value: s.slice(i + 1) };
  }).filter((e) => e.type === "URI" || e.type === "DNS");
}

/** The peer's identity as RBAC sees it: its URI SAN (SPIFFE ID), else its subject. */
export function peerPrincipal(cert: PeerCertificate | undefined): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  return sanEntries(cert).find((e) => e.type === "URI")?.value ?? (cert.subject ? Object.entries(cert.subject).map(([k, v]) => `${k}=${v}`).join(",") : undefined);
}

function sanMatcher(v: CertificateValidationContext__Output | null | undefined): TlsMaterial["verifySan"] {
  if (!v) return undefined;
  const typed = v.match_typed_subject_alt_names.map((m) => ({ type: m.san_type === "DNS" ? "DNS" : "URI", test: compileStringMatcher(m.matcher!) }));
  const legacy = v.match_subject_alt_names.map((m) => ({ type: "ANY", test: compileStringMatcher(m) }));
  const all: Array<{ type: string; test: Predicate<string> }> = [...typed, ...legacy];
  if (all.length === 0) return undefined;
  return (cert) => {
    const sans = sanEntries(cert);
    const ok = all.some((m) => sans.some((s) => (m.type === "ANY" || m.type === s.type) && m.test(s.value)));
    return ok ? undefined : new Error(`peer certificate SANs (${sans.map((s) => s.value).join(", ") || "none"}) match none of the expected identities`);
  };
}

/** Compiles a CommonTlsContext; `material()` is called per new connection. */
export function compileTlsContext(ctx: CommonTlsContext__Output, secrets: SecretLookup, where: string): () => TlsMaterial {
  const inlineCert = ctx.tls_certificates[0];
  const certSds = ctx.tls_certificate_sds_secret_configs[0]?.name;
  let validation: CertificateValidationContext__Output | null = null;
  let caSds: string | undefined;
  switch (ctx.validation_context_type) {
    case "validation_context": validation = ctx.validation_context ?? null; break;
    case "validation_context_sds_secret_config": caSds = ctx.validation_context_sds_secret_config!.name; break;
    case "combined_validation_context":
      validation = ctx.combined_validation_context!.default_validation_context ?? null;
      caSds = ctx.combined_validation_context!.validation_context_sds_secret_config?.name;
      break;
    case undefined: break;
    default: throw new Error(`${where}: ${ctx.validation_context_type} is not supported (validation_context, validation_context_sds_secret_config, combined_validation_context are)`);
  }
  for (const [i, c] of ctx.tls_certificate_sds_secret_configs.entries()) refuseFileSource(c.sds_config, `${where}.tls_certificate_sds_secret_configs[${i}].sds_config`, "SDS");
  refuseFileSource(ctx.validation_context_sds_secret_config?.sds_config, `${where}.validation_context_sds_secret_config.sds_config`, "SDS");
  refuseFileSource(ctx.combined_validation_context?.validation_context_sds_secret_config?.sds_config, `${where}.combined_validation_context.validation_context_sds_secret_config.sds_config`, "SDS");
  if (certSds) secrets.want?.(certSds);
  if (caSds) secrets.want?.(caSds);
  const fixedCert = inlineCert ? { cert: data(inlineCert.certificate_chain, `${where}.tls_certificates[0].certificate_chain`), key: data(inlineCert.private_key, `${where}.tls_certificates[0].private_key`) } : undefined;
  const fixedCa = data(validation?.trusted_ca, `${where}.validation_context.trusted_ca`);
  const verifySan = sanMatcher(validation);
  const alpn = ctx.alpn_protocols;
  return () => {
    const certs = fixedCert ?? (certSds ? secrets(certSds) : undefined);
    const ca = fixedCa ?? (caSds ? secrets(caSds)?.caPem : undefined);
    const cert = fixedCert ? fixedCert.cert : (certs as SecretMaterial | undefined)?.certChainPem;
    const key = fixedCert ? fixedCert.key : (certs as SecretMaterial | undefined)?.keyPem;
    return { cert, key, ca, alpn, verifySan };
  };
}

/** A Secret resource (SDS) as the material TLS contexts read; throws naming the field when it is unusable. */
export function secretMaterial(sec: Secret__Output, where: string): SecretMaterial {
  const check = (pem: string | undefined, field: string): string => {
    if (!pem) throw new Error(`${where}.${field}: no certificate (inline_string, inline_bytes or filename)`);
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new Error(`${where}.${field}: not a PEM certificate (${(err as Error).message})`, { cause: err });
    }
    return pem;
  };
  switch (sec.type) {
    case "tls_certificate": {
      const t = sec.tls_certificate!;
      const certChainPem = check(data(t.certificate_chain, `${where}.tls_certificate.certificate_chain`), "tls_certificate.certificate_chain");
      const keyPem = data(t.private_key, `${where}.tls_certificate.private_key`);
      if (!keyPem) throw new Error(`${where}.tls_certificate.private_key: a certificate needs its private key`);
      return { certChainPem, keyPem };
    }
    case "validation_context":
      return { caPem: check(data(sec.validation_context!.trusted_ca, `${where}.validation_context.trusted_ca`), "validation_context.trusted_ca") };
    default:
      throw new Error(`${where}: ${sec.type ?? "an empty secret"} is not supported (tls_certificate and validation_context are)`);
  }
}
