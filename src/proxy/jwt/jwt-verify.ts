// Verifies one JWT against a provider's keys, issuer, audiences and time bounds; returns why when it fails.
import { constants, createHmac, timingSafeEqual, verify } from "node:crypto";
import type { VerifyKey } from "./jwks.js";

export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  azp?: string;
  [claim: string]: unknown;
}

export type VerifyResult = { ok: true; payload: JwtClaims; payloadB64: string; header: Record<string, unknown> } | { ok: false; reason: string };

export interface VerifyPolicy {
  issuer?: string;
  audiences: string[];
  clockSkewSeconds: number;
  requireExpiration: boolean;
  keys: VerifyKey[];
  /** max_lifetime: the longest remaining lifetime (exp - now) a token may have; implies exp is required. */
  maxLifetimeSeconds?: number;
  /** subjects: which `sub` values the provider may assert. */
  subjectAllowed?: (sub: string) => boolean;
}

const HASH: Record<string, string> = { "256": "sha256", "384": "sha384", "512": "sha512" };

function checkSignature(alg: string, key: VerifyKey, data: Buffer, sig: Buffer): boolean {
  const bits = alg.slice(2);
  if (alg.startsWith("HS")) {
    const mac = createHmac(HASH[bits], key.key).update(data).digest();
    return mac.length === sig.length && timingSafeEqual(mac, sig);
  }
  if (alg === "EdDSA") return verify(null, data, key.key, sig);
  if (alg.startsWith("ES")) return verify(HASH[bits], data, { key: key.key, dsaEncoding: "ieee-p1363" }, sig);
  if (alg.startsWith("PS")) return verify(HASH[bits], data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, sig);
  return verify(HASH[bits], data, key.key, sig);
}

/** Everything about a token that does not depend on the time: its form, signature, issuer, audiences and subject. */
export function verifyStatic(token: string, policy: VerifyPolicy): VerifyResult {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "Jwt is not in the form of Header.Payload.Signature" };
  let header: { alg?: string; kid?: string; [field: string]: unknown };
  let payload: JwtClaims;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return { ok: false, reason: "Jwt header or payload is not valid base64url-encoded JSON" };
  }
  if (!header || typeof header !== "object" || !payload || typeof payload !== "object") return { ok: false, reason: "Jwt header or payload is not a JSON object" };
  const alg = header.alg;
  if (!alg || alg === "none" || !/^(RS|PS|ES|HS)(256|384|512)$|^EdDSA$/.test(alg)) return { ok: false, reason: `Jwt algorithm ${alg ?? "(none)"} is not supported` };
  const candidates = policy.keys.filter((k) => k.algs.has(alg) && (!header.kid || !k.kid || k.kid === header.kid));
  if (candidates.length === 0) return { ok: false, reason: header.kid ? `Jwks doesn't have key to match kid or alg from Jwt (kid "${header.kid}", alg ${alg})` : `Jwks doesn't have a key for alg ${alg}` };
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const sig = Buffer.from(parts[2], "base64url");
  let verified = false;
  for (const k of candidates) {
    try {
      if (checkSignature(alg, k, data, sig)) { verified = true; break; }
    } catch {
      // A key of the wrong shape for this signature: try the next one.
    }
  }
  if (!verified) return { ok: false, reason: "Jwt verification fails" };
  if (policy.issuer && payload.iss !== policy.issuer) return { ok: false, reason: "Jwt issuer is not configured" };
  if (policy.audiences.length > 0) {
    const aud = Array.isArray(payload.aud) ? payload.aud : payload.aud !== undefined ? [payload.aud] : [];
    if (!aud.some((a) => policy.audiences.includes(a))) return { ok: false, reason: "Audiences in Jwt are not allowed" };
  }
  if (policy.subjectAllowed && (typeof payload.sub !== "string" || !policy.subjectAllowed(payload.sub))) return { ok: false, reason: "Jwt subject is not allowed" };
  return { ok: true, payload, payloadB64: parts[1], header };
}

/** The time bounds of a verified token at `nowSeconds`: exp (with clock skew), max_lifetime and nbf. */
export function checkTimes(verified: Extract<VerifyResult, { ok: true }>, policy: VerifyPolicy, nowSeconds: number): VerifyResult {
  const payload = verified.payload;
  const skew = policy.clockSkewSeconds;
  if (payload.exp === undefined) {
    if (policy.requireExpiration || policy.maxLifetimeSeconds !== undefined) return { ok: false, reason: "Jwt is missing the exp claim" };
  } else if (typeof payload.exp !== "number" || payload.exp + skew < nowSeconds) return { ok: false, reason: "Jwt is expired" };
  if (policy.maxLifetimeSeconds !== undefined && (payload.exp as number) - nowSeconds > policy.maxLifetimeSeconds) return { ok: false, reason: "Jwt lifetime is longer than the provider allows (max_lifetime)" };
  if (payload.nbf !== undefined && (typeof payload.nbf !== "number" || payload.nbf - skew > nowSeconds)) return { ok: false, reason: "Jwt not yet valid" };
  return verified;
}

export function verifyJwt(token: string, policy: VerifyPolicy, nowSeconds: number): VerifyResult {
  const v = verifyStatic(token, policy);
  return v.ok ? checkTimes(v, policy, nowSeconds) : v;
}
