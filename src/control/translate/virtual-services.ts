// VirtualService http routes -> Envoy routes for one host, as Istio translates them (matches, weighted destinations,
// timeouts, retries, faults, rewrites, redirects, header changes, mirrors), with Istio's defaults when none applies.
// (tcp and tls routes become filter chains instead: l4-routes.ts.)
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { protoDuration } from "./destination-rules.js";
import { clusterName, fqdn, type Service } from "./services.js";
import { namesGateway } from "./gateway-hosts.js";

type Json = Record<string, unknown>;

interface StringMatch { exact?: string; prefix?: string; regex?: string }
export interface HttpMatch {
  uri?: StringMatch; scheme?: StringMatch; method?: StringMatch; authority?: StringMatch;
  headers?: Record<string, StringMatch>; withoutHeaders?: Record<string, StringMatch>; queryParams?: Record<string, StringMatch>;
  ignoreUriCase?: boolean; sourceLabels?: Record<string, string>; sourceNamespace?: string; gateways?: string[]; port?: number;
}
export interface Destination { host: string; subset?: string; port?: { number?: number } }
export interface HttpRoute {
  name?: string;
  match?: HttpMatch[];
  route?: Array<{ destination: Destination; weight?: number; headers?: Headers }>;
  redirect?: { uri?: string; authority?: string; port?: number; scheme?: string; redirectCode?: number };
  directResponse?: { status: number; body?: { string?: string } };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match: string; rewrite: string } };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string; retryRemoteLocalities?: boolean };
  fault?: { delay?: { fixedDelay?: string; percentage?: { value?: number } }; abort?: { httpStatus?: number; grpcStatus?: string; percentage?: { value?: number } } };
  mirror?: Destination;
  mirrorPercentage?: { value?: number };
  headers?: Headers;
  corsPolicy?: { allowOrigins?: StringMatch[]; allowMethods?: string[]; allowHeaders?: string[]; exposeHeaders?: string[]; maxAge?: string; allowCredentials?: boolean };
}
interface Headers {
  request?: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] };
  response?: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] };
}
/** Istio's L4MatchAttributes (tcp) and TLSMatchAttributes (tls: the same plus sniHosts). */
export interface L4Match {
  port?: number; destinationSubnets?: string[]; sourceLabels?: Record<string, string>; sourceNamespace?: string; gateways?: string[];
  sniHosts?: string[];
}
export interface L4Route { match?: L4Match[]; route?: Array<{ destination: Destination; weight?: number }> }
export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  exportTo?: string[];
  http?: HttpRoute[];
  tcp?: L4Route[];
  tls?: L4Route[];
}

const FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
const GRPC_CODES: Record<string, number> = { OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16 };

/** Istio's default retry policy for mesh traffic. */
export const DEFAULT_RETRY = {
  retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
  num_retries: 2,
  retriable_status_codes: [503],
  retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" } }],
  host_selection_retry_max_attempts: 5,
};

function stringMatcher(m: StringMatch): Json {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  return { safe_regex: { regex: m.regex ?? ".*" } };
}

function headerMatcher(name: string, m: StringMatch, invert = false): Json {
  return { name, string_match: stringMatcher(m), ...(invert ? { invert_match: true } : {}) };
}

function percentage(value: number | undefined): Json {
  // Istio's percentages are doubles; Envoy takes millionths.
  return { numerator: Math.round((value ?? 100) * 10_000), denominator: "MILLION" };
}

function headerOps(set?: Record<string, string>, add?: Record<string, string>): Json[] {
  return [
    ...Object.entries(set ?? {}).map(([key, value]) => ({ header: { key, value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" })),
    ...Object.entries(add ?? {}).map(([key, value]) => ({ header: { key, value }, append_action: "APPEND_IF_EXISTS_OR_ADD" })),
  ];
}

function retryPolicy(r: HttpRoute["retries"]): Json | undefined {
  if (!r) return DEFAULT_RETRY;
  if (!r.attempts) return undefined;
  const on = (r.retryOn ?? "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes").split(",").map((s) => s.trim()).filter(Boolean);
  const codes = on.filter((x) => /^\d+$/.test(x)).map(Number);
  const conditions = on.filter((x) => !/^\d+$/.test(x));
  if (codes.length && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
  return {
    retry_on: conditions.join(","),
    num_retries: r.attempts,
    ...(r.perTryTimeout ? { per_try_timeout: protoDuration(r.perTryTimeout) } : {}),
    ...(codes.length ? { retriable_status_codes: codes } : conditions.includes("retriable-status-codes") ? { retriable_status_codes: [503] } : {}),
    retry_host_predicate: DEFAULT_RETRY.retry_host_predicate,
    host_selection_retry_max_attempts: 5,
  };
}

export interface RouteContext {
  /** The service the routes are for. */
  service: Service;
  port: number;
  /** The proxy asking (for sourceLabels and exportTo). */
  proxy: Workload;
  services: Map<string, Service>;
  hashPolicies(hostname: string, subset: string | undefined, port: number): Json[];
  /** Routes for a gateway proxy: the matches' `gateways` must name this Gateway ("namespace/name"), not the mesh. */
  gateway?: string;
}

/**
 * Istio's cluster for a route destination: its port, else the service's only port, else the port being routed
 * (GetDestinationCluster).
 */
/** The port a destination goes to: its own, the service's only port, or the port the request came in on. */
function destinationPort(d: Destination, host: string, services: Map<string, Service>, routedPort: number): number {
  const svc = services.get(host);
  return d.port?.number ?? (svc?.ports.length === 1 ? svc.ports[0].port : routedPort);
}

export function destinationClusterName(d: Destination, ns: string, services: Map<string, Service>, routedPort: number): string {
  const host = fqdn(d.host, ns);
  return clusterName("outbound", destinationPort(d, host, services, routedPort), d.subset ?? "", host);
}

function destinationCluster(d: Destination, ns: string, ctx: RouteContext): string {
  return destinationClusterName(d, ns, ctx.services, ctx.port);
}

/** VirtualServices visible to the proxy that route this host on the mesh gateway. */
export function virtualServicesFor(vss: Array<IstioResource<VirtualServiceSpec>>, hostname: string, proxyNs: string): Array<IstioResource<VirtualServiceSpec>> {
  return vss.filter((vs) => {
    const ns = vs.metadata.namespace ?? "default";
    const exportTo = vs.spec.exportTo ?? ["*"];
    if (!exportTo.includes("*") && !(exportTo.includes(".") && ns === proxyNs) && !exportTo.includes(proxyNs)) return false;
    const gateways = vs.spec.gateways ?? ["mesh"];
    if (!gateways.includes("mesh")) return false;
    return (vs.spec.hosts ?? []).some((h) => fqdn(h, ns) === hostname || h === "*" || (h.startsWith("*.") && hostname.endsWith(h.slice(1))));
  }).sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
}

/**
 * The parts of a match decided when config is made for one sidecar (Istio's static predicates): its labels include
 * sourceLabels, its namespace is sourceNamespace, the match's gateways (if any) include the mesh, and the port routed
 * is the match's port. A match failing them is left out of that proxy's config.
 */
export function matchAppliesTo(m: { sourceLabels?: Record<string, string>; sourceNamespace?: string; gateways?: string[]; port?: number } | undefined, proxy: Workload, port: number, gateway?: { key: string; vsNamespace: string }): boolean {
  if (!m) return true;
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => proxy.labels[k] === v)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== proxy.namespace) return false;
  if (m.gateways?.length && !(gateway ? namesGateway(m.gateways, gateway.key, gateway.vsNamespace) : m.gateways.includes("mesh"))) return false;
  return !m.port || m.port === port;
}

export function routeFor(r: HttpRoute, m: HttpMatch | undefined, vsNs: string, ctx: RouteContext, index: string): Json | undefined {
  if (!matchAppliesTo(m, ctx.proxy, ctx.port, ctx.gateway ? { key: ctx.gateway, vsNamespace: vsNs } : undefined)) return undefined;
  const match: Json = {};
  const uri = m?.uri;
  if (uri?.exact !== undefined) match.path = uri.exact;
  else if (uri?.regex !== undefined) match.safe_regex = { regex: uri.regex };
  else match.prefix = uri?.prefix ?? "/";
  if (m?.ignoreUriCase) match.case_sensitive = false;
  const headers: Json[] = [];
  for (const [name, sm] of Object.entries(m?.headers ?? {})) headers.push(headerMatcher(name.toLowerCase(), sm));
  for (const [name, sm] of Object.entries(m?.withoutHeaders ?? {})) headers.push(headerMatcher(name.toLowerCase(), sm, true));
  if (m?.method) headers.push(headerMatcher(":method", m.method));
  if (m?.authority) headers.push(headerMatcher(":authority", m.authority));
  if (m?.scheme) headers.push(headerMatcher(":scheme", m.scheme));
  if (headers.length) match.headers = headers;
  const query = Object.entries(m?.queryParams ?? {}).map(([name, sm]) => ({ name, string_match: stringMatcher(sm) }));
  if (query.length) match.query_parameters = query;
  const route: Json = { name: r.name ?? index, match };
  if (r.redirect) {
    const rd = r.redirect;
    route.redirect = { ...(rd.uri ? { path_redirect: rd.uri } : {}), ...(rd.authority ? { host_redirect: rd.authority } : {}), ...(rd.port ? { port_redirect: rd.port } : {}), ...(rd.scheme ? { scheme_redirect: rd.scheme } : {}), response_code: rd.redirectCode === 302 ? "FOUND" : rd.redirectCode === 303 ? "SEE_OTHER" : rd.redirectCode === 307 ? "TEMPORARY_REDIRECT" : rd.redirectCode === 308 ? "PERMANENT_REDIRECT" : "MOVED_PERMANENTLY" };
  } else if (r.directResponse) {
    route.direct_response = { status: r.directResponse.status, ...(r.directResponse.body?.string !== undefined ? { body: { inline_string: r.directResponse.body.string } } : {}) };
  } else {
    const dests = r.route ?? [];
    const action: Json = { timeout: protoDuration(r.timeout) ?? "0s" };
    if (dests.length <= 1) {
      const d = dests[0]?.destination ?? { host: ctx.service.hostname };
      action.cluster = destinationCluster(d, vsNs, ctx);
      const host = fqdn(d.host, vsNs);
      action.hash_policy = ctx.hashPolicies(host, d.subset, destinationPort(d, host, ctx.services, ctx.port));
    } else {
      action.weighted_clusters = { clusters: dests.map((d) => ({
        name: destinationCluster(d.destination, vsNs, ctx), weight: d.weight ?? 0,
        ...(d.headers?.request ? { request_headers_to_add: headerOps(d.headers.request.set, d.headers.request.add), request_headers_to_remove: d.headers.request.remove ?? [] } : {}),
        ...(d.headers?.response ? { response_headers_to_add: headerOps(d.headers.response.set, d.headers.response.add), response_headers_to_remove: d.headers.response.remove ?? [] } : {}),
      })) };
    }
    const retry = retryPolicy(r.retries);
    if (retry) action.retry_policy = retry;
    if (r.rewrite?.uri !== undefined) action.prefix_rewrite = r.rewrite.uri;
    if (r.rewrite?.uriRegexRewrite) action.regex_rewrite = { pattern: { regex: r.rewrite.uriRegexRewrite.match }, substitution: r.rewrite.uriRegexRewrite.rewrite };
    if (r.rewrite?.authority) action.host_rewrite_literal = r.rewrite.authority;
    if (r.mirror) action.request_mirror_policies = [{ cluster: destinationCluster(r.mirror, vsNs, ctx), runtime_fraction: { default_value: percentage(r.mirrorPercentage?.value) } }];
    route.route = action;
  }
  if (r.fault) {
    const f: Json = { "@type": FAULT };
    if (r.fault.delay?.fixedDelay) f.delay = { fixed_delay: protoDuration(r.fault.delay.fixedDelay), percentage: percentage(r.fault.delay.percentage?.value) };
    if (r.fault.abort) f.abort = { ...(r.fault.abort.grpcStatus ? { grpc_status: GRPC_CODES[r.fault.abort.grpcStatus] ?? 2 } : { http_status: r.fault.abort.httpStatus ?? 500 }), percentage: percentage(r.fault.abort.percentage?.value) };
    route.typed_per_filter_config = { "envoy.filters.http.fault": f };
  }
  if (r.corsPolicy) {
    const c = r.corsPolicy;
    const maxAge = protoDuration(c.maxAge);
    route.typed_per_filter_config = {
      ...(route.typed_per_filter_config as Json | undefined),
      "envoy.filters.http.cors": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        allow_origin_string_match: (c.allowOrigins ?? []).map(stringMatcher),
        ...(c.allowMethods?.length ? { allow_methods: c.allowMethods.join(",") } : {}),
        ...(c.allowHeaders?.length ? { allow_headers: c.allowHeaders.join(",") } : {}),
        ...(c.exposeHeaders?.length ? { expose_headers: c.exposeHeaders.join(",") } : {}),
        ...(maxAge ? { max_age: String(Math.round(parseFloat(maxAge))) } : {}),
        ...(c.allowCredentials !== undefined ? { allow_credentials: c.allowCredentials } : {}),
      },
    };
  }
  if (r.headers?.request) {
    route.request_headers_to_add = headerOps(r.headers.request.set, r.headers.request.add);
    route.request_headers_to_remove = r.headers.request.remove ?? [];
  }
  if (r.headers?.response) {
    route.response_headers_to_add = headerOps(r.headers.response.set, r.headers.response.add);
    route.response_headers_to_remove = r.headers.response.remove ?? [];
  }
  return route;
}

/** The routes for one service port: from the first VirtualService that routes it, else Istio's default route. */
export function routesFor(vss: Array<IstioResource<VirtualServiceSpec>>, ctx: RouteContext): Json[] {
  const vs = virtualServicesFor(vss, ctx.service.hostname, ctx.proxy.namespace)[0];
  // Istio's span name for every route to a service port.
  const decorator = { operation: `${ctx.service.hostname}:${ctx.port}/*` };
  const fallback = { name: "default", match: { prefix: "/" }, route: { cluster: clusterName("outbound", ctx.port, "", ctx.service.hostname), timeout: "0s", retry_policy: DEFAULT_RETRY, hash_policy: ctx.hashPolicies(ctx.service.hostname, undefined, ctx.port) }, decorator };
  if (!vs) return [fallback];
  const ns = vs.metadata.namespace ?? "default";
  const routes: Json[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    const matches = r.match?.length ? r.match : [undefined];
    matches.forEach((m, j) => {
      const route = routeFor(r, m, ns, ctx, `${vs.metadata.name}.${i}.${j}`);
      if (route) routes.push({ ...route, decorator });
    });
  });
  return routes.length ? routes : [fallback];
}
