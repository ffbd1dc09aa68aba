// jwt_cache_config: a provider's verified tokens by their text, so a token seen again skips its signature check (the
// costly part). Only what does not change with time is kept; exp, nbf and max_lifetime are checked on every use. The
// cache empties when the provider's key set changes (a remote set refreshed), so a revoked key stops verifying.
import type { VerifyKey } from "./jwks.js";
import type { VerifyResult } from "./jwt-verify.js";

type Verified = Extract<VerifyResult, { ok: true }>;

/** Envoy's default size when jwt_cache_config is set without one. */
export const DEFAULT_JWT_CACHE_SIZE = 100;

export class TokenCache {
  private readonly entries = new Map<string, Verified>();
  private keys: VerifyKey[] | undefined;

  constructor(private readonly size: number) {}

  get(token: string, keys: VerifyKey[]): Verified | undefined {
    if (keys !== this.keys) {
      this.entries.clear();
      this.keys = keys;
      return undefined;
    }
    const hit = this.entries.get(token);
    if (hit) {
      // Least recently used goes first: a hit moves to the back of the Map's insertion order.
      this.entries.delete(token);
      this.entries.set(token, hit);
    }
    return hit;
  }

  set(token: string, verified: Verified): void {
    this.entries.set(token, verified);
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
  }
}
