// Bootstrap tokens for universal mode: HS256-signed JWTs naming one namespace and service account, with an expiry.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Identity, checkIdentityNames } from "../../identity/spiffe.js";

const AUDIENCE = "trellis-ca";
const ISSUER = "trellis";

export interface TokenClaims {
  iss: string;
  aud: string;
  sub: string;
  ns: string;
  sa: string;
  iat: number;
  exp: number;
  jti: string;
}

function b64url(buf: Buffer | string): string {
  return Buffer.from(buf).toString("base64url");
}

export class TokenIssuer {
  private constructor(private readonly key: Buffer, private readonly trustDomain: string) {}

  /** Loads the signing key from `keyFile`, creating it (0600) on first use. */
  static open(keyFile: string, trustDomain: string): TokenIssuer {
    if (!existsSync(keyFile)) {
      mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
      writeFileSync(keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    }
    const key = Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64");
    if (key.length < 32) throw new Error(`${keyFile}: the token signing key is shorter than 32 bytes; delete the file to have a new one made (tokens issued with it stop working)`);
    return new TokenIssuer(key, trustDomain);
  }

  issue(namespace: string, serviceAccount: string, ttlSeconds: number, now = Date.now()): string {
    const bad = checkIdentityNames(namespace, serviceAccount);
    if (bad) throw new Error(bad);
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new Error(`the token lifetime must be positive, got ${ttlSeconds} seconds`);
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = {
      iss: ISSUER, aud: AUDIENCE, sub: `spiffe://${this.trustDomain}/ns/${namespace}/sa/${serviceAccount}`,
      ns: namespace, sa: serviceAccount, iat, exp: iat + Math.floor(ttlSeconds), jti: randomUUID(),
    };
    const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${this.sign(`${head}.${body}`)}`;
  }

  /** The identity a token proves, or an error saying why it is refused. Never logs the token. */
  verify(token: string, now = Date.now()): { ok: true; identity: Identity } | { ok: false; error: string } {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, error: "the token is not a JWT (three dot-separated parts)" };
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, error: "the token's signature is not valid for this control plane (was it issued by another state directory?)" };
    let claims: TokenClaims;
    try {
      const header = JSON.parse(Buffer.from(parts[0], "base64url").toString()) as { alg?: string };
      if (header.alg !== "HS256") return { ok: false, error: `the token's algorithm ${header.alg} is not accepted` };
      claims = JSON.parse(Buffer.from(parts[1], "base64url").toString()) as TokenClaims;
    } catch {
      return { ok: false, error: "the token's header or claims are not JSON" };
    }
    if (claims.aud !== AUDIENCE || claims.iss !== ISSUER) return { ok: false, error: "the token was not issued for the Trellis CA" };
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= now) return { ok: false, error: "the token has expired; create a new one with `trellis token create`" };
    return { ok: true, identity: { trustDomain: this.trustDomain, namespace: claims.ns, serviceAccount: claims.sa } };
  }

  private sign(data: string): string {
    return createHmac("sha256", this.key).update(data).digest("base64url");
  }
}
