// envoy.filters.http.jwt_authn compiled per config: extract tokens, verify them per provider, apply the requirement,
// and hand back metadata (payloads, and Istio's request.auth.* attributes) or a 401.
import type { JwtAuthentication__Output } from "../../xds/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.js";
import type { JwtProvider__Output } from "../../xds/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtProvider.js";
import type { JwtRequirement__Output } from "../../xds/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtRequirement.js";
import type { RouteMatch__Output } from "../../xds/generated/envoy/config/route/v3/RouteMatch.js";
import { type HeaderGetter, compileHeaderMatcher, compileRegex, compileStringMatcher } from "../matchers/string-matcher.js";
import { parseJwks, type VerifyKey } from "./jwks.js";
import { type ClusterLookup, RemoteJwks } from "./remote-jwks.js";
import { checkTimes, type JwtClaims, verifyStatic, type VerifyPolicy, type VerifyResult } from "./jwt-verify.js";
import { DEFAULT_JWT_CACHE_SIZE, TokenCache } from "./token-cache.js";
import { durationMs } from "../util/duration.js";

export interface JwtRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: URLSearchParams | undefined;
  header: HeaderGetter;
  cookie(name: string): string | undefined;
}

export type JwtOutcome =
  | {
      ok: true;
      /** Dynamic metadata by filter name: the jwt_authn payloads and Istio's request.auth.* attributes (istio_authn). */
      metadata: Record<string, Record<string, unknown>>;
      removeHeaders: string[];
      setHeaders: Array<[string, string]>;
    }
  | { ok: false; status: 401 | 403; body: string; wwwAuthenticate: string };

interface Extracted {
  token: string;
  /** Where it came from, so forward: false can strip it. */
  header?: string;
}

interface Provider {
  name: string;
  policy: VerifyPolicy;
  /** The provider's keys now: local ones, or the remote set while fresh (undefined: not fetched, or failing). */
  keys(): VerifyKey[] | undefined;
  remote?: RemoteJwks;
  extract(req: JwtRequest): Extracted | undefined;
  /** Verifies a token with the given keys: from the cache when jwt_cache_config asks for one. */
  verify(token: string, keys: VerifyKey[], nowSeconds: number): VerifyResult;
  raw: JwtProvider__Output;
}

type ProviderState = { status: "ok"; provider: Provider; payload: JwtClaims; payloadB64: string; header: Record<string, unknown>; from: Extracted } | { status: "missing" } | { status: "failed"; reason: string };
type Check = (state: (name: string) => ProviderState) => { ok: true; used: string[] } | { ok: false; reason: string; missing: boolean };

function localKeys(name: string, p: JwtProvider__Output): VerifyKey[] {
  const keysText = p.local_jwks?.inline_string || (p.local_jwks?.inline_bytes?.length ? Buffer.from(p.local_jwks.inline_bytes).toString("utf8") : undefined);
  if (!keysText) throw new Error(`providers.${name}: a key set is required (local_jwks.inline_string, or remote_jwks)`);
  try {
    return parseJwks(keysText);
  } catch (err) {
    throw new Error(`providers.${name}.local_jwks: ${(err as Error).message}`, { cause: err });
  }
}

function compileProvider(name: string, p: JwtProvider__Output, clusters: ClusterLookup | undefined): Provider {
  let remote: RemoteJwks | undefined;
  let keys: VerifyKey[] = [];
  if (p.jwks_source_specifier === "remote_jwks" && p.remote_jwks) {
    if (!clusters) throw new Error(`providers.${name}.remote_jwks: this listener cannot reach clusters`);
    remote = new RemoteJwks(p.remote_jwks, clusters, `providers.${name}.remote_jwks`);
  } else keys = localKeys(name, p);
  const headers = p.from_headers.length || p.from_params.length || p.from_cookies.length ? p.from_headers : [{ name: "Authorization", value_prefix: "Bearer " }];
  const params = p.from_headers.length || p.from_params.length || p.from_cookies.length ? p.from_params : ["access_token"];
  const cookies = p.from_cookies;
  const policy: VerifyPolicy = {
    issuer: p.issuer || undefined, audiences: p.audiences, clockSkewSeconds: p.clock_skew_seconds || 60, requireExpiration: p.require_expiration, keys,
    maxLifetimeSeconds: p.max_lifetime ? durationMs(p.max_lifetime, 0) / 1000 : undefined,
    subjectAllowed: p.subjects ? compileStringMatcher(p.subjects) : undefined,
  };
  const cache = p.jwt_cache_config ? new TokenCache(p.jwt_cache_config.jwt_cache_size || DEFAULT_JWT_CACHE_SIZE) : undefined;
  return {
    name,
    raw: p,
    remote,
    keys: remote ? () => remote.current() : () => keys,
    policy,
    verify(token, current, nowSeconds) {
      policy.keys = current;
      const cached = cache?.get(token, current);
      const v = cached ?? verifyStatic(token, policy);
      if (!v.ok) return v;
      if (!cached) cache?.set(token, v);
      return checkTimes(v, policy, nowSeconds);
    },
    extract(req) {
      for (const h of headers) {
        const v = req.header(h.name.toLowerCase());
        if (v === undefined) continue;
        const prefix = h.value_prefix;
        if (!prefix) return { token: v.trim(), header: h.name.toLowerCase() };
        const at = v.indexOf(prefix);
        if (at >= 0) return { token: v.slice(at + prefix.length).split(/[\s,]/)[0], header: h.name.toLowerCase() };
      }
      for (const q of params) {
        const v = req.query?.get(q);
        if (v) return { token: v };
      }
      for (const c of cookies) {
        const v = req.cookie(c);
        if (v) return { token: v };
      }
      return undefined;
    },
  };
}

function compileRequirement(r: JwtRequirement__Output, path: string): Check {
  switch (r.requires_type) {
    case "provider_name": {
      const name = r.provider_name!;
      return (state) => {
        const s = state(name);
        return s.status === "ok" ? { ok: true, used: [name] } : { ok: false, reason: s.status === "failed" ? s.reason : "Jwt is missing", missing: s.status === "missing" };
      };
    }
    case "provider_and_audiences": {
      const { provider_name: name, audiences } = r.provider_and_audiences!;
      return (state) => {
        const s = state(name);
        if (s.status !== "ok") return { ok: false, reason: s.status === "failed" ? s.reason : "Jwt is missing", missing: s.status === "missing" };
        const aud = Array.isArray(s.payload.aud) ? s.payload.aud : [s.payload.aud];
        return audiences.some((a) => aud.includes(a)) ? { ok: true, used: [name] } : { ok: false, reason: "Audiences in Jwt are not allowed", missing: false };
      };
    }
    case "requires_any": {
      const subs = r.requires_any!.requirements.map((x, i) => compileRequirement(x, `${path}.requires_any[${i}]`));
      return (state) => {
        let last: { ok: false; reason: string; missing: boolean } = { ok: false, reason: "Jwt is missing", missing: true };
        let sawFailure: { ok: false; reason: string; missing: boolean } | undefined;
        for (const s of subs) {
          const res = s(state);
          if (res.ok) return res;
          if (!res.missing) sawFailure ??= res;
          last = res;
        }
        return sawFailure ?? last;
      };
    }
    case "requires_all": {
      const subs = r.requires_all!.requirements.map((x, i) => compileRequirement(x, `${path}.requires_all[${i}]`));
      return (state) => {
        const used: string[] = [];
        for (const s of subs) {
          const res = s(state);
          if (!res.ok) return res;
          used.push(...res.used);
        }
        return { ok: true, used };
      };
    }
    case "allow_missing":
      // Passes when no token was presented; a presented token that fails still fails (via the sibling requirement).
      return () => ({ ok: false, reason: "Jwt is missing", missing: true });
    case "allow_missing_or_failed":
      return () => ({ ok: true, used: [] });
    default:
      throw new Error(`${path}: requirement "${r.requires_type ?? "(none)"}" is not supported`);
  }
}

function compileRuleMatch(m: RouteMatch__Output): (req: JwtRequest) => boolean {
  let pathOk: (p: string) => boolean;
  switch (m.path_specifier) {
    case "prefix": { const pre = m.prefix!; pathOk = (p) => p.startsWith(pre); break; }
    case "path": { const exact = m.path!; pathOk = (p) => p === exact; break; }
    case "safe_regex": { const re = compileRegex(m.safe_regex!); pathOk = (p) => re.test(p); break; }
    case "path_separated_prefix": { const pre = m.path_separated_prefix!; pathOk = (p) => p === pre || p.startsWith(pre + "/"); break; }
    default: throw new Error(`rules[].match: path specifier "${m.path_specifier ?? "(none)"}" is not supported here`);
  }
  const headers = m.headers.map(compileHeaderMatcher);
  return (req) => pathOk(req.path) && headers.every((h) => h(req.header));
}

export interface CompiledJwtAuthn {
  authenticate(req: JwtRequest, nowSeconds?: number): JwtOutcome;
  /** A remote key set fetch to wait for before authenticating (missing or expired keys), else undefined. */
  pending(): Promise<void> | undefined;
}

/**
 * Requests with no rule match pass untouched. An allow_missing requirement inside requires_any lets requests without
 * a token through while still rejecting a bad token, which is how Istio's RequestAuthentication behaves.
 */
export function compileJwtAuthn(config: JwtAuthentication__Output, clusters?: ClusterLookup): CompiledJwtAuthn {
  const providers = new Map(Object.entries(config.providers).map(([name, p]) => [name, compileProvider(name, p, clusters)]));
  const remotes = [...providers.values()].flatMap((p) => (p.remote ? [p.remote] : []));
  const rules = config.rules.map((r, i) => {
    if (!r.match) throw new Error(`rules[${i}].match is required`);
    let check: Check;
    if (r.requirement_type === "requires" && r.requires) {
      const req = r.requires;
      const names = collectProviders(req);
      for (const n of names) if (!providers.has(n)) throw new Error(`rules[${i}].requires names provider "${n}", which is not in providers`);
      check = withAllowMissing(req, compileRequirement(req, `rules[${i}].requires`));
    } else if (r.requirement_name) {
      const named = config.requirement_map[r.requirement_name];
      if (!named) throw new Error(`rules[${i}].requirement_name "${r.requirement_name}" is not in requirement_map`);
      check = withAllowMissing(named, compileRequirement(named, `requirement_map.${r.requirement_name}`));
    } else {
      check = () => ({ ok: true, used: [] });
    }
    return { match: compileRuleMatch(r.match), check };
  });
  const bypassPreflight = config.bypass_cors_preflight;
  return {
    pending() {
      const waits = remotes.map((r) => r.pending()).filter((w): w is Promise<void> => w !== undefined);
      return waits.length ? Promise.all(waits).then(() => undefined) : undefined;
    },
    authenticate(req, nowSeconds = Math.floor(Date.now() / 1000)) {
      if (bypassPreflight && req.method === "OPTIONS" && req.header("origin") !== undefined && req.header("access-control-request-method") !== undefined) return pass();
      const rule = rules.find((r) => r.match(req));
      if (!rule) return pass();
      const cache = new Map<string, ProviderState>();
      const state = (name: string): ProviderState => {
        let s = cache.get(name);
        if (!s) {
          const p = providers.get(name)!;
          const from = p.extract(req);
          if (!from) s = { status: "missing" };
          else {
            const keys = p.keys();
            // Envoy's words when the remote key set could not be fetched.
            const v = keys ? p.verify(from.token, keys, nowSeconds) : { ok: false as const, reason: "Jwks remote fetch is failed" };
            s = v.ok ? { status: "ok", provider: p, payload: v.payload, payloadB64: v.payloadB64, header: v.header, from } : { status: "failed", reason: v.reason };
          }
          cache.set(name, s);
        }
        return s;
      };
      const res = rule.check(state);
      if (!res.ok) {
        return { ok: false, status: 401, body: res.reason, wwwAuthenticate: `Bearer realm="${req.path}", error="invalid_token"` };
      }
      return outcome(res.used.map((n) => state(n)).filter((s): s is Extract<ProviderState, { status: "ok" }> => s.status === "ok"));
    },
  };
}

function collectProviders(r: JwtRequirement__Output): string[] {
  if (r.provider_name) return [r.provider_name];
  if (r.provider_and_audiences) return [r.provider_and_audiences.provider_name];
  const subs = r.requires_any?.requirements ?? r.requires_all?.requirements ?? [];
  return subs.flatMap(collectProviders);
}

/** requires_any containing allow_missing: a request with no token at all passes; any failure of a presented token does not. */
function withAllowMissing(r: JwtRequirement__Output, check: Check): Check {
  const allowsMissing = r.requires_type === "allow_missing" || (r.requires_any?.requirements ?? []).some((x) => x.requires_type === "allow_missing");
  if (!allowsMissing) return check;
  return (state) => {
    const res = check(state);
    if (res.ok || !res.missing) return res;
    return { ok: true, used: [] };
  };
}

function pass(): JwtOutcome {
  return { ok: true, metadata: {}, removeHeaders: [], setHeaders: [] };
}

/** normalize_payload_in_metadata: the listed claims, space-delimited strings, become lists ("a b" -> ["a", "b"]). */
function normalizedPayload(payload: JwtClaims, spaceDelimited: string[]): JwtClaims {
  if (spaceDelimited.length === 0) return payload;
  const out: JwtClaims = { ...payload };
  for (const claim of spaceDelimited) if (typeof out[claim] === "string") out[claim] = (out[claim] as string).split(" ").filter(Boolean);
  return out;
}

/** pad_forward_payload_header: base64url as JWTs write it has no "=" padding; this adds it. */
const padded = (b64: string) => b64 + "=".repeat((4 - (b64.length % 4)) % 4);

function outcome(verified: Array<{ provider: Provider; payload: JwtClaims; payloadB64: string; header: Record<string, unknown>; from: Extracted }>): JwtOutcome {
  const jwtMeta: Record<string, unknown> = {};
  const removeHeaders: string[] = [];
  const setHeaders: Array<[string, string]> = [];
  let istio: Record<string, unknown> | undefined;
  for (const v of verified) {
    const raw = v.provider.raw;
    if (raw.payload_in_metadata) jwtMeta[raw.payload_in_metadata] = normalizedPayload(v.payload, raw.normalize_payload_in_metadata?.space_delimited_claims ?? []);
    if (raw.header_in_metadata) jwtMeta[raw.header_in_metadata] = v.header;
    if (!raw.forward && v.from.header) removeHeaders.push(v.from.header);
    if (raw.forward_payload_header) setHeaders.push([raw.forward_payload_header, raw.pad_forward_payload_header ? padded(v.payloadB64) : v.payloadB64]);
    for (const c of raw.claim_to_headers) {
      const value = v.payload[c.claim_name];
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") setHeaders.push([c.header_name, String(value)]);
    }
    // Istio's authn attributes come from the first verified token.
    istio ??= {
      "request.auth.principal": `${v.payload.iss ?? ""}/${v.payload.sub ?? ""}`,
      "request.auth.audiences": Array.isArray(v.payload.aud) ? v.payload.aud[0] : v.payload.aud,
      "request.auth.presenter": v.payload.azp,
      // Claims as lists, so one matcher shape (list_match) serves string and list claims alike, as in Istio.
      "request.auth.claims": Object.fromEntries(Object.entries(v.payload).map(([k, x]) => [k, Array.isArray(x) ? x : [x]])),
      "request.auth.raw_claims": v.payload,
    };
  }
  const metadata: Record<string, Record<string, unknown>> = {};
  if (Object.keys(jwtMeta).length) metadata["envoy.filters.http.jwt_authn"] = jwtMeta;
  if (istio) metadata.istio_authn = istio;
  return { ok: true, metadata, removeHeaders, setHeaders };
}
