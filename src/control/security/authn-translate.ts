// RequestAuthentication -> the envoy.filters.http.jwt_authn filter for one workload, shaped as Istio generates it.
import type { IstioResource } from "../../api/resource.js";
import { policyApplies, type WorkloadIdentity } from "./authz-translate.js";

export interface JwtRule {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: Array<{ name: string; prefix?: string }>;
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: Array<{ header: string; claim: string }>;
  timeout?: string;
}

export interface RequestAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  jwtRules?: JwtRule[];
}

/**
 * A key set no token can match: used when a jwksUri could not be fetched, so tokens of that issuer are rejected
 * instead of being let through (Istio does the same).
 */
export const UNREACHABLE_JWKS = JSON.stringify({ keys: [{ kty: "oct", kid: "trellis-jwks-unavailable", alg: "HS256", k: Buffer.from("trellis: the issuer's JWKS could not be fetched").toString("base64url") }] });

export interface JwtFilterResult {
  /** The http_filters entry (proto3 JSON), or undefined when no RequestAuthentication applies. */
  httpFilter?: Record<string, unknown>;
  /** jwksUri values whose key set was not available (the caller fetches them and retranslates). */
  pendingJwks: string[];
}

/**
 * `jwks(uri)` returns the fetched key set (the control plane fetches and caches jwksUri, and inlines it, which is
 * Istio's default too). Every token that is present must verify; a request without one passes (authorization policy
 * decides whether that is acceptable).
 */
export function buildJwtFilter(policies: Array<IstioResource<RequestAuthenticationSpec>>, workload: WorkloadIdentity, jwks: (uri: string) => string | undefined, rootNamespace = "istio-system"): JwtFilterResult {
  const rules = policies.filter((p) => policyApplies(p, workload, rootNamespace))
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
    .flatMap((p) => p.spec.jwtRules ?? []);
  if (rules.length === 0) return { pendingJwks: [] };
  const pendingJwks: string[] = [];
  const providers: Record<string, unknown> = {};
  rules.forEach((rule, i) => {
    let keySet = rule.jwks;
    if (!keySet && rule.jwksUri) {
      keySet = jwks(rule.jwksUri);
      if (!keySet) {
        pendingJwks.push(rule.jwksUri);
        keySet = UNREACHABLE_JWKS;
      }
    }
    providers[`origins-${i}`] = {
      issuer: rule.issuer,
      ...(rule.audiences?.length ? { audiences: rule.audiences } : {}),
      local_jwks: { inline_string: keySet ?? UNREACHABLE_JWKS },
      forward: rule.forwardOriginalToken ?? false,
      ...(rule.fromHeaders?.length ? { from_headers: rule.fromHeaders.map((h) => ({ name: h.name, ...(h.prefix ? { value_prefix: h.prefix } : {}) })) } : {}),
      ...(rule.fromParams?.length ? { from_params: rule.fromParams } : {}),
      ...(rule.fromCookies?.length ? { from_cookies: rule.fromCookies } : {}),
      ...(rule.outputPayloadToHeader ? { forward_payload_header: rule.outputPayloadToHeader } : {}),
      ...(rule.outputClaimToHeaders?.length ? { claim_to_headers: rule.outputClaimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim })) } : {}),
      payload_in_metadata: rule.issuer,
    };
  });
  const requirements = [...Object.keys(providers).map((provider_name) => ({ provider_name })), { allow_missing: {} }];
  return {
    pendingJwks,
    httpFilter: {
      name: "envoy.filters.http.jwt_authn",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        providers,
        rules: [{ match: { prefix: "/" }, requires: { requires_any: { requirements } } }],
        bypass_cors_preflight: true,
      },
    },
  };
}
