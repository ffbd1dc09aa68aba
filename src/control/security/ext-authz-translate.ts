// A CUSTOM AuthorizationPolicy's HTTP filters, as Istio builds them: a shadow RBAC filter holding the policy's rules
// (it decides nothing, it only marks the requests they match with dynamic metadata), then an ext_authz filter that
// asks the provider's service about exactly the marked requests.
import type { ExtAuthzHttpProvider } from "../ext-authz-providers.js";
import { clusterName, fqdn } from "../translate/services.js";

type Json = Record<string, unknown>;

const RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const EXT_AUTHZ_TYPE = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz";
/** Istio's names: shadow policies are called istio-ext-authz-..., and their match lands under this key. */
const SHADOW_PREFIX = "istio_ext_authz_";
export const EXT_AUTHZ_POLICY_PREFIX = "istio-ext-authz-";

/** Istio's header syntax (exact, `prefix*`, `*suffix`) as Envoy string matchers, case-insensitive as header names are. */
function patterns(names: string[]): Json {
  return {
    patterns: names.map((n) => (n.endsWith("*") ? { prefix: n.slice(0, -1), ignore_case: true } : n.startsWith("*") ? { suffix: n.slice(1), ignore_case: true } : { exact: n, ignore_case: true })),
  };
}

/** Where the provider's service is reached: its outbound cluster, which the proxy must be given. */
export function providerTarget(p: ExtAuthzHttpProvider, namespace: string): { hostname: string; port: number; cluster: string } {
  const hostname = fqdn(p.service, namespace);
  return { hostname, port: p.port, cluster: clusterName("outbound", p.port, "", hostname) };
}

export function extAuthzFilters(p: ExtAuthzHttpProvider, shadowPolicies: Json, namespace: string): Json[] {
  const target = providerTarget(p, namespace);
  return [
    { name: "envoy.filters.http.rbac", typed_config: { "@type": RBAC_TYPE, shadow_rules: { action: "DENY", policies: shadowPolicies }, shadow_rules_stat_prefix: SHADOW_PREFIX } },
    {
      name: "envoy.filters.http.ext_authz",
      typed_config: {
        "@type": EXT_AUTHZ_TYPE,
        transport_api_version: "V3",
        failure_mode_allow: p.failOpen,
        ...(p.statusOnError ? { status_on_error: { code: p.statusOnError } } : {}),
        filter_enabled_metadata: { filter: "envoy.filters.http.rbac", path: [{ key: `${SHADOW_PREFIX}shadow_effective_policy_id` }], value: { string_match: { prefix: EXT_AUTHZ_POLICY_PREFIX } } },
        http_service: {
          server_uri: { uri: `http://${target.hostname}:${p.port}`, cluster: target.cluster, timeout: `${(p.timeoutMs ?? 600_000) / 1000}s` },
          path_prefix: p.pathPrefix ?? "",
          authorization_request: {
            ...(p.includeRequestHeadersInCheck.length ? { allowed_headers: patterns(p.includeRequestHeadersInCheck) } : {}),
            headers_to_add: Object.entries(p.includeAdditionalHeadersInCheck).map(([key, value]) => ({ key, value })),
          },
          authorization_response: {
            ...(p.headersToUpstreamOnAllow.length ? { allowed_upstream_headers: patterns(p.headersToUpstreamOnAllow) } : {}),
            ...(p.headersToDownstreamOnDeny.length ? { allowed_client_headers: patterns(p.headersToDownstreamOnDeny) } : {}),
            ...(p.headersToDownstreamOnAllow.length ? { allowed_client_headers_on_success: patterns(p.headersToDownstreamOnAllow) } : {}),
          },
        },
      },
    },
  ];
}
