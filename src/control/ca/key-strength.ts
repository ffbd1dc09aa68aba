// Which CSR public keys the CA signs: RSA of at least 2048 bits (as Istio's CA requires) or ECDSA on P-256/P-384.
// A 512- or 1024-bit RSA key can be factored, and a mesh certificate on it lets anyone impersonate the workload.
import type { CryptoKey } from "../../identity/x509.js";
export const MIN_RSA_BITS = 2048;

/** Why the key is too weak to certify, or undefined. */
export function weakKey(key: CryptoKey): string | undefined {
  const alg = key.algorithm as { name: string; modulusLength?: number; namedCurve?: string };
  if (alg.name.startsWith("RSA")) {
    return (alg.modulusLength ?? 0) < MIN_RSA_BITS ? `the CSR's RSA key has ${alg.modulusLength} bits; the CA signs RSA keys of ${MIN_RSA_BITS} bits or more (or ECDSA P-256)` : undefined;
  }
  if (alg.name === "ECDSA") return alg.namedCurve === "P-256" || alg.namedCurve === "P-384" ? undefined : `the CSR's ECDSA curve ${alg.namedCurve} is not accepted; use P-256 or P-384`;
  return `the CSR's key type ${alg.name} is not accepted; use ECDSA P-256 or RSA of ${MIN_RSA_BITS} bits or more`;
}
