// JSON Web Key Sets: parsed once per config into Node key objects, looked up by key id and algorithm.
import { type KeyObject, createPublicKey, createSecretKey } from "node:crypto";

export interface Jwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [k: string]: unknown;
}

export interface VerifyKey {
  kid?: string;
  /** Algorithms this key may verify. */
  algs: Set<string>;
  key: KeyObject;
}

const ALGS_BY_KTY: Record<string, string[]> = {
  RSA: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
  EC: ["ES256", "ES384", "ES512"],
  OKP: ["EdDSA"],
  oct: ["HS256", "HS384", "HS512"],
};

const EC_ALG_BY_CURVE: Record<string, string> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };

/** Parses a JWKS document (or a single JWK, or a PEM public key as Envoy also accepts). Throws with the reason. */
export function parseJwks(text: string): VerifyKey[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN")) {
    const key = createPublicKey(trimmed);
    const algs = key.asymmetricKeyType === "rsa" ? ALGS_BY_KTY.RSA : key.asymmetricKeyType === "ec" ? ALGS_BY_KTY.EC : ALGS_BY_KTY.OKP;
    return [{ algs: new Set(algs), key }];
  }
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch (err) {
    throw new Error(`the JWKS is neither JSON nor a PEM public key: ${(err as Error).message}`, { cause: err });
  }
  const keys = Array.isArray((doc as { keys?: unknown }).keys) ? (doc as { keys: Jwk[] }).keys : [doc as Jwk];
  const out: VerifyKey[] = [];
  keys.forEach((jwk, i) => {
    if (!jwk || typeof jwk !== "object" || typeof jwk.kty !== "string") throw new Error(`keys[${i}] has no "kty"`);
    if (jwk.use && jwk.use !== "sig") return;
    const family = ALGS_BY_KTY[jwk.kty];
    if (!family) throw new Error(`keys[${i}]: key type "${jwk.kty}" is not supported (RSA, EC, OKP, oct are)`);
    let key: KeyObject;
    try {
      key = jwk.kty === "oct" ? createSecretKey(Buffer.from(String(jwk.k), "base64url")) : createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
    } catch (err) {
      throw new Error(`keys[${i}]${jwk.kid ? ` (kid "${jwk.kid}")` : ""} is not a valid ${jwk.kty} key: ${(err as Error).message}`, { cause: err });
    }
    const algs = jwk.alg ? [jwk.alg] : jwk.kty === "EC" && typeof jwk.crv === "string" ? [EC_ALG_BY_CURVE[jwk.crv] ?? ""] : family;
    out.push({ kid: jwk.kid, algs: new Set(algs), key });
  });
  if (out.length === 0) throw new Error("the JWKS holds no signing key");
  return out;
}
