// Bootstrap tokens for universal mode: HS256-signed JWTs naming one namespace and service account, what the holder
// may register (its service and labels), with a capped expiry and revocation by id.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Identity, checkIdentityNames } from "../../identity/spiffe.js";
import { RevocationList } from "./token-revocations.js";
import { checkScope, type RegistrationScope } from "./registration-scope.js";

const AUDIENCE = "trellis-ca";
const ISSUER = "trellis";
/** The longest a bootstrap token may live (Kubernetes' projected tokens default to one hour; ours to 24 h). */
export const MAX_TOKEN_TTL_S = 24 * 3600;

export interface TokenClaims {
  iss: string;
  aud: string;
  sub: string;
  ns: string;
  sa: string;
  iat: number;
  exp: number;
  jti: string;
  /** The service the holder may serve; absent = none (a client-only workload or a gateway). */
  svc?: string;
  /** The labels the holder may claim (besides app=svc); absent = none. */
  lbl?: Record<string, string>;
  /** The WorkloadEntry the holder runs as (its labels are the scope); absent = none. */
  we?: string;
}

export type TokenVerdict = { ok: true; identity: Identity; scope: RegistrationScope; id: string; expiresAt: number } | { ok: false; error: string };

function b64url(buf: Buffer | string): string {
  return Buffer.from(buf).toString("base64url");
}

export class TokenIssuer {
  private constructor(private readonly key: Buffer, private readonly trustDomain: string, readonly revocations: RevocationList) {}

  /** Loads the signing key from `keyFile`, creating it (0600) on first use; revocations live beside it. */
  static open(keyFile: string, trustDomain: string): TokenIssuer {
    if (!existsSync(keyFile)) {
      mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
      writeFileSync(keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    }
    const key = Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64");
    if (key.length < 32) throw new Error(`${keyFile}: the token signing key is shorter than 32 bytes; delete the file to have a new one made (tokens issued with it stop working)`);
    return new TokenIssuer(key, trustDomain, new RevocationList(`${keyFile}.revoked`));
  }

  issue(namespace: string, serviceAccount: string, ttlSeconds: number, now = Date.now(), scope: RegistrationScope = {}): string {
    const bad = checkIdentityNames(namespace, serviceAccount) ?? checkScope(scope);
    if (bad) throw new Error(bad);
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new Error(`the token lifetime must be positive, got ${ttlSeconds} seconds`);
    if (ttlSeconds > MAX_TOKEN_TTL_S) throw new Error(`the token lifetime ${ttlSeconds} s is over the cap of ${MAX_TOKEN_TTL_S} s (24h): a leaked bootstrap token must not outlive a day; issue shorter ones and renew them (trellis run does)`);
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = {
      iss: ISSUER, aud: AUDIENCE, sub: `spiffe://${this.trustDomain}/ns/${namespace}/sa/${serviceAccount}`,
      ns: namespace, sa: serviceAccount, iat, exp: iat + Math.floor(ttlSeconds), jti: randomUUID(),
      ...(scope.service ? { svc: scope.service } : {}), ...(scope.labels && Object.keys(scope.labels).length ? { lbl: scope.labels } : {}), ...(scope.workloadEntry ? { we: scope.workloadEntry } : {}),
    };
    const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${this.sign(`${head}.${body}`)}`;
  }

  /** The identity and registration scope a token proves, or an error saying why it is refused. Never logs the token. */
  verify(token: string, now = Date.now()): TokenVerdict {
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
    // Signed by our key, so the lifetime was capped at issue; this refuses tokens minted before the cap existed.
    if (typeof claims.iat !== "number" || claims.exp - claims.iat > MAX_TOKEN_TTL_S) return { ok: false, error: `the token lives longer than the ${MAX_TOKEN_TTL_S} s cap; create a new one with \`trellis token create\`` };
    if (this.revocations.has(claims.jti, now)) return { ok: false, error: `the token ${claims.jti} was revoked (trellis token revoke); create a new one with \`trellis token create\`` };
    const scope: RegistrationScope = { ...(typeof claims.svc === "string" ? { service: claims.svc } : {}), ...(claims.lbl && typeof claims.lbl === "object" ? { labels: claims.lbl } : {}), ...(typeof claims.we === "string" ? { workloadEntry: claims.we } : {}) };
    return { ok: true, identity: { trustDomain: this.trustDomain, namespace: claims.ns, serviceAccount: claims.sa }, scope, id: claims.jti, expiresAt: claims.exp * 1000 };
  }

  /** The id (jti) and expiry of a token this issuer signed, for `trellis token revoke`; expired ones too. */
  idOf(token: string): { ok: true; id: string; expiresAt: number } | { ok: false; error: string } {
    const v = this.verify(token, 0);
    if (!v.ok) return v;
    return { ok: true, id: v.id, expiresAt: v.expiresAt };
  }

  private sign(data: string): string {
    return createHmac("sha256", this.key).update(data).digest("base64url");
  }
}
