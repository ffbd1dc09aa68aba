// A RouteConfiguration compiled once per config change: virtual hosts by domain, routes with their matchers and
// actions ready to run, so a request does only comparisons.
import type { RouteConfiguration__Output } from "../../xds/generated/envoy/config/route/v3/RouteConfiguration.js";
import type { VirtualHost__Output } from "../../xds/generated/envoy/config/route/v3/VirtualHost.js";
import type { Route__Output } from "../../xds/generated/envoy/config/route/v3/Route.js";
import type { RouteMatch__Output } from "../../xds/generated/envoy/config/route/v3/RouteMatch.js";
import type { RouteAction__Output } from "../../xds/generated/envoy/config/route/v3/RouteAction.js";
import type { RetryPolicy__Output } from "../../xds/generated/envoy/config/route/v3/RetryPolicy.js";
import { compileHeaderMatcher, compileRegex, compileStringMatcher, type Predicate } from "../matchers/string-matcher.js";
import { durationMs, wrapped } from "../util/duration.js";
import { DENOMINATOR, Runtime } from "../runtime/runtime.js";
import { compileHeaderMutation, type HeaderMutation } from "./header-mutation.js";
import type { RequestView } from "./request-view.js";
import { compilePerFilterConfig, type PerFilterEntry } from "./per-route-config.js";

export interface ClusterChoice {
  name: string;
  weight: number;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
}

export interface RetryConfig {
  retryOn: Set<string>;
  numRetries: number;
  perTryTimeoutMs: number;
  retriableStatusCodes: Set<number>;
  baseIntervalMs: number;
  maxIntervalMs: number;
  previousHosts: boolean;
  hostSelectionAttempts: number;
}

export interface HashPolicy {
  kind: "header" | "cookie" | "source_ip" | "query_parameter";
  name: string;
  terminal: boolean;
  cookieTtlMs?: number;
  cookiePath?: string;
}

export interface MirrorPolicy {
  /** The share of requests mirrored, read per request (runtime_fraction). */
  fraction: () => number;
  /** The mirror cluster, or "" when `clusterHeader` names it per request. */
  cluster: string;
  /** cluster_header: the request header whose value names the mirror cluster (no header, no mirror; as Envoy). */
  clusterHeader?: string;
  /** disable_shadow_host_suffix_append: keep the authority as it is instead of appending "-shadow". */
  keepAuthority: boolean;
}

export type RouteAction =
  | {
      kind: "forward";
      clusters: ClusterChoice[];
      totalWeight: number;
      clusterHeader?: string;
      timeoutMs: number;
      /** The route's idle_timeout; -1 when unset (the connection manager's stream_idle_timeout applies), 0 = none. */
      idleTimeoutMs: number;
      retry?: RetryConfig;
      prefixRewrite?: { prefix: string; replacement: string };
      regexRewrite?: { pattern: RegExp; substitution: string };
      hostRewrite?: string;
      autoHostRewrite: boolean;
      hashPolicies: HashPolicy[];
      mirrors: MirrorPolicy[];
      upgrades: Set<string>;
      notFoundStatus: number;
    }
  | { kind: "redirect"; status: number; scheme?: string; host?: string; port?: number; path?: string; prefixRewrite?: { prefix: string; replacement: string }; stripQuery: boolean; httpsRedirect: boolean }
  | { kind: "direct"; status: number; body?: Buffer };

export interface CompiledRoute {
  name: string;
  matches(req: RequestView): boolean;
  action: RouteAction;
  requestHeaders: HeaderMutation;
  responseHeaders: HeaderMutation;
  /** Per-filter overrides (route over virtual host), by filter name, compiled with the table (per-route-config.ts). */
  perFilterConfig: Map<string, PerFilterEntry>;
  /** Envoy's decorator/operation name for tracing and access logs. */
  operation: string;
}

export interface CompiledVirtualHost {
  name: string;
  routes: CompiledRoute[];
}

export interface RouteTable {
  name: string;
  /** The virtual host for an authority (host[:port]); undefined when none matches (404, NR). */
  virtualHost(authority: string): CompiledVirtualHost | undefined;
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };
const GRPC_RETRY_ON = new Set(["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"]);

function compileMatch(m: RouteMatch__Output, path: string, runtime: Runtime): Predicate<RequestView> {
  const caseSensitive = wrapped(m.case_sensitive, true);
  const norm = (s: string) => (caseSensitive ? s : s.toLowerCase());
  let pathOk: Predicate<RequestView>;
  switch (m.path_specifier) {
    case "prefix": { const p = norm(m.prefix!); pathOk = (r) => norm(r.path).startsWith(p); break; }
    case "path": { const p = norm(m.path!); pathOk = (r) => norm(r.pathOnly) === p; break; }
    case "safe_regex": { const re = compileRegex(m.safe_regex!, caseSensitive ? "" : "i"); pathOk = (r) => re.test(r.pathOnly); break; }
    case "path_separated_prefix": {
      const p = norm(m.path_separated_prefix!);
      pathOk = (r) => { const x = norm(r.pathOnly); return x === p || x.startsWith(p + "/"); };
      break;
    }
    case "connect_matcher": pathOk = (r) => r.method === "CONNECT"; break;
    default: throw new Error(`${path}.match: path specifier "${m.path_specifier ?? "(none)"}" is not supported (prefix, path, safe_regex, path_separated_prefix, connect_matcher are)`);
  }
  const headers = m.headers.map(compileHeaderMatcher);
  const queries = m.query_parameters.map((q) => {
    if (q.present_match) return (r: RequestView) => r.query().has(q.name);
    const s = q.string_match ? compileStringMatcher(q.string_match) : () => true;
    return (r: RequestView) => { const v = r.query().get(q.name); return v !== null && s(v); };
  });
  const grpc = m.grpc !== null;
  const fraction = runtimeFraction(m.runtime_fraction, runtime, 1);
  if (headers.length === 0 && queries.length === 0 && !grpc && !m.runtime_fraction) return pathOk;
  return (r) => pathOk(r)
    && headers.every((h) => h((n) => r.header(n)))
    && queries.every((q) => q(r))
    && (!grpc || (r.header("content-type") ?? "").startsWith("application/grpc"))
    && chance(fraction());
}

const EMPTY_RUNTIME = Runtime.fromBootstrap(null, "", "");

/** A RuntimeFractionalPercent read at request time: its runtime_key's value when the runtime has one, else the default. */
export function runtimeFraction(p: { default_value: { numerator: number; denominator: string } | null; runtime_key: string } | null | undefined, runtime: Runtime, unset: number): () => number {
  if (!p?.default_value) return () => unset;
  const fallback = fractionOf(p.default_value);
  if (!p.runtime_key) return () => fallback;
  const denominator = DENOMINATOR[p.default_value.denominator] ?? 100;
  return () => runtime.fraction(p.runtime_key, fallback, denominator);
}

/** True with probability f (always at 1 or more, never at 0). */
export function chance(f: number): boolean {
  return f >= 1 || (f > 0 && Math.random() < f);
}

export function fractionOf(p: { numerator: number; denominator: string }): number {
  const d = p.denominator === "TEN_THOUSAND" ? 10_000 : p.denominator === "MILLION" ? 1_000_000 : 100;
  return Math.min(1, p.numerator / d);
}

function compileRetry(r: RetryPolicy__Output | null): RetryConfig | undefined {
  if (!r) return undefined;
  const retryOn = new Set(r.retry_on.split(",").map((s) => s.trim()).filter(Boolean));
  const unknown = [...retryOn].filter((x) => !["5xx", "gateway-error", "connect-failure", "reset", "retriable-4xx", "retriable-status-codes", "refused-stream", "retriable-headers", "http3-post-connect-failure", "reset-before-request", "envoy-ratelimited", ...GRPC_RETRY_ON].includes(x));
  if (unknown.length) throw new Error(`retry_on "${unknown.join(",")}" is not a retry condition Envoy knows`);
  const base = durationMs(r.retry_back_off?.base_interval, 25);
  return {
    retryOn,
    numRetries: wrapped(r.num_retries, 1),
    perTryTimeoutMs: durationMs(r.per_try_timeout, 0),
    retriableStatusCodes: new Set(r.retriable_status_codes),
    baseIntervalMs: base,
    maxIntervalMs: durationMs(r.retry_back_off?.max_interval, base * 10),
    previousHosts: r.retry_host_predicate.some((p) => p.name === "envoy.retry_host_predicates.previous_hosts"),
    hostSelectionAttempts: Math.max(1, r.host_selection_retry_max_attempts || 1),
  };
}

function compileAction(a: RouteAction__Output, vh: VirtualHost__Output, path: string, runtime: Runtime): RouteAction {
  let clusters: ClusterChoice[];
  let clusterHeader: string | undefined;
  switch (a.cluster_specifier) {
    case "cluster":
      clusters = [{ name: a.cluster!, weight: 1, requestHeaders: compileHeaderMutation([]), responseHeaders: compileHeaderMutation([]) }];
      break;
    case "weighted_clusters":
      clusters = a.weighted_clusters!.clusters.map((c) => ({
        name: c.name,
        weight: wrapped(c.weight, 0),
        requestHeaders: compileHeaderMutation([{ add: c.request_headers_to_add, remove: c.request_headers_to_remove }]),
        responseHeaders: compileHeaderMutation([{ add: c.response_headers_to_add, remove: c.response_headers_to_remove }]),
      }));
      if (clusters.every((c) => c.weight === 0)) throw new Error(`${path}.route.weighted_clusters: every weight is 0`);
      break;
    case "cluster_header":
      clusters = [];
      clusterHeader = a.cluster_header!.toLowerCase();
      break;
    default:
      throw new Error(`${path}.route: cluster specifier "${a.cluster_specifier ?? "(none)"}" is not supported (cluster, weighted_clusters, cluster_header are)`);
  }
  const hashPolicies: HashPolicy[] = a.hash_policy.map((h) => {
    switch (h.policy_specifier) {
      case "header": return { kind: "header", name: h.header!.header_name.toLowerCase(), terminal: h.terminal };
      case "cookie": return { kind: "cookie", name: h.cookie!.name, terminal: h.terminal, cookieTtlMs: h.cookie!.ttl ? durationMs(h.cookie!.ttl, 0) : undefined, cookiePath: h.cookie!.path || undefined };
      case "connection_properties": return { kind: "source_ip", name: "", terminal: h.terminal };
      case "query_parameter": return { kind: "query_parameter", name: h.query_parameter!.name, terminal: h.terminal };
      default: throw new Error(`${path}.route.hash_policy: "${h.policy_specifier}" is not supported (header, cookie, connection_properties, query_parameter are)`);
    }
  });
  const mirrors = a.request_mirror_policies.map((m) => ({
    cluster: m.cluster, clusterHeader: m.cluster_header ? m.cluster_header.toLowerCase() : undefined, keepAuthority: m.disable_shadow_host_suffix_append,
    fraction: runtimeFraction(m.runtime_fraction, runtime, 1),
  }));
  const retry = compileRetry(a.retry_policy ?? vh.retry_policy);
  return {
    kind: "forward",
    clusters,
    totalWeight: clusters.reduce((s, c) => s + c.weight, 0),
    clusterHeader,
    // Envoy's default route timeout is 15 s; 0 disables it.
    timeoutMs: durationMs(a.timeout, 15_000),
    idleTimeoutMs: a.idle_timeout ? durationMs(a.idle_timeout, 0) : -1,
    retry,
    prefixRewrite: a.prefix_rewrite ? { prefix: "", replacement: a.prefix_rewrite } : undefined,
    regexRewrite: a.regex_rewrite?.pattern ? { pattern: new RegExp(a.regex_rewrite.pattern.regex.replace(/^\(\?i\)/, ""), a.regex_rewrite.pattern.regex.startsWith("(?i)") ? "gi" : "g"), substitution: a.regex_rewrite.substitution.replace(/\\(\d)/g, "$$$1") } : undefined,
    hostRewrite: a.host_rewrite_literal || undefined,
    autoHostRewrite: a.host_rewrite_specifier === "auto_host_rewrite" && !!a.auto_host_rewrite?.value,
    hashPolicies,
    mirrors,
    upgrades: new Set(a.upgrade_configs.filter((u) => wrapped(u.enabled, true)).map((u) => u.upgrade_type.toLowerCase())),
    notFoundStatus: a.cluster_not_found_response_code === "NOT_FOUND" ? 404 : a.cluster_not_found_response_code === "INTERNAL_SERVER_ERROR" ? 500 : 503,
  };
}

/** `vhFilters`: the virtual host's overrides, compiled once and shared by its routes (a local rate limit's bucket with them). */
function compileRoute(r: Route__Output, vh: VirtualHost__Output, cfg: RouteConfiguration__Output, path: string, runtime: Runtime, vhFilters: Map<string, PerFilterEntry>): CompiledRoute {
  if (!r.match) throw new Error(`${path}.match is required`);
  let action: RouteAction;
  switch (r.action) {
    case "route": action = compileAction(r.route!, vh, path, runtime); break;
    case "redirect": {
      const d = r.redirect!;
      action = {
        kind: "redirect", status: REDIRECT_CODES[d.response_code] ?? 301, httpsRedirect: d.scheme_rewrite_specifier === "https_redirect" && !!d.https_redirect,
        scheme: d.scheme_redirect || undefined, host: d.host_redirect || undefined, port: d.port_redirect || undefined,
        path: d.path_redirect || undefined, prefixRewrite: d.prefix_rewrite ? { prefix: "", replacement: d.prefix_rewrite } : undefined, stripQuery: d.strip_query,
      };
      break;
    }
    case "direct_response": {
      const d = r.direct_response!;
      const b = d.body;
      const body = b ? (b.inline_string ? Buffer.from(b.inline_string) : b.inline_bytes ? Buffer.from(b.inline_bytes) : undefined) : undefined;
      if (b?.filename) throw new Error(`${path}.direct_response.body.filename is not supported; inline the body`);
      action = { kind: "direct", status: d.status, body };
      break;
    }
    default: throw new Error(`${path}: action "${r.action ?? "(none)"}" is not supported (route, redirect, direct_response are)`);
  }
  if (action.kind === "forward" && action.prefixRewrite) {
    // prefix_rewrite replaces exactly what the route's prefix matched.
    const m = r.match;
    action.prefixRewrite.prefix = m.path_specifier === "prefix" ? m.prefix! : m.path_specifier === "path" ? m.path! : m.path_specifier === "path_separated_prefix" ? m.path_separated_prefix! : "";
  }
  if (action.kind === "redirect" && action.prefixRewrite && r.match.path_specifier === "prefix") action.prefixRewrite.prefix = r.match.prefix!;
  const perFilterConfig = new Map([...vhFilters, ...compilePerFilterConfig(r.typed_per_filter_config, path, runtime)]);
  return {
    name: r.name,
    matches: compileMatch(r.match, path, runtime),
    action,
    requestHeaders: compileHeaderMutation([
      { add: r.request_headers_to_add, remove: r.request_headers_to_remove },
      { add: vh.request_headers_to_add, remove: vh.request_headers_to_remove },
      { add: cfg.request_headers_to_add, remove: cfg.request_headers_to_remove },
    ]),
    responseHeaders: compileHeaderMutation([
      { add: r.response_headers_to_add, remove: r.response_headers_to_remove },
      { add: vh.response_headers_to_add, remove: vh.response_headers_to_remove },
      { add: cfg.response_headers_to_add, remove: cfg.response_headers_to_remove },
    ]),
    perFilterConfig,
    operation: r.decorator?.operation ?? "",
  };
}

/** Compiles a RouteConfiguration; throws an Error naming the field path for anything it cannot serve. */
export function compileRouteTable(cfg: RouteConfiguration__Output, runtime: Runtime = EMPTY_RUNTIME): RouteTable {
  const exact = new Map<string, CompiledVirtualHost>();
  const suffixes: Array<[string, CompiledVirtualHost]> = [];
  const prefixes: Array<[string, CompiledVirtualHost]> = [];
  let any: CompiledVirtualHost | undefined;
  cfg.virtual_hosts.forEach((vh, i) => {
    const vhFilters = compilePerFilterConfig(vh.typed_per_filter_config, `virtual_hosts[${i}]`, runtime);
    const compiled: CompiledVirtualHost = { name: vh.name, routes: vh.routes.map((r, j) => compileRoute(r, vh, cfg, `virtual_hosts[${i}].routes[${j}]`, runtime, vhFilters)) };
    for (const raw of vh.domains) {
      const d = raw.toLowerCase();
      const clash = (where: string) => { throw new Error(`virtual_hosts[${i}].domains: "${raw}" is also a domain of another virtual host (${where}); Envoy rejects duplicate domains`); };
      if (d === "*") { if (any) clash(any.name); any = compiled; }
      else if (d.startsWith("*")) { if (suffixes.some(([s]) => s === d.slice(1))) clash(d); suffixes.push([d.slice(1), compiled]); }
      else if (d.endsWith("*")) { if (prefixes.some(([s]) => s === d.slice(0, -1))) clash(d); prefixes.push([d.slice(0, -1), compiled]); }
      else { if (exact.has(d)) clash(exact.get(d)!.name); exact.set(d, compiled); }
    }
  });
  // Longest wildcard first, as Envoy matches.
  suffixes.sort((a, b) => b[0].length - a[0].length);
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const lookup = (host: string): CompiledVirtualHost | undefined => {
    const e = exact.get(host);
    if (e) return e;
    for (const [s, v] of suffixes) if (host.endsWith(s) && host.length > s.length) return v;
    for (const [p, v] of prefixes) if (host.startsWith(p) && host.length > p.length) return v;
    return undefined;
  };
  return {
    name: cfg.name,
    virtualHost(authority: string) {
      const host = authority.toLowerCase();
      const found = lookup(host);
      if (found) return found;
      // Envoy retries without the port when the host carries one.
      const colon = host.lastIndexOf(":");
      if (colon > 0 && !host.endsWith("]")) {
        const bare = lookup(host.slice(0, colon));
        if (bare) return bare;
      }
      return any;
    },
  };
}

/** Picks a cluster of a weighted route: `r` in [0, totalWeight). */
export function pickCluster(action: Extract<RouteAction, { kind: "forward" }>, req: RequestView, r = Math.random() * action.totalWeight): ClusterChoice | undefined {
  if (action.clusterHeader) {
    const name = req.header(action.clusterHeader);
    return name ? { name, weight: 1, requestHeaders: action.clusters[0]?.requestHeaders ?? compileHeaderMutation([]), responseHeaders: compileHeaderMutation([]) } : undefined;
  }
  if (action.clusters.length === 1) return action.clusters[0];
  let acc = 0;
  for (const c of action.clusters) {
    acc += c.weight;
    if (r < acc) return c;
  }
  return action.clusters[action.clusters.length - 1];
}

/** The path after the route's rewrite rules; unchanged when it has none. */
export function rewritePath(action: Extract<RouteAction, { kind: "forward" }>, path: string): string {
  if (action.prefixRewrite && path.startsWith(action.prefixRewrite.prefix)) return action.prefixRewrite.replacement + path.slice(action.prefixRewrite.prefix.length);
  if (action.regexRewrite) {
    const q = path.indexOf("?");
    const p = q < 0 ? path : path.slice(0, q);
    action.regexRewrite.pattern.lastIndex = 0;
    return p.replace(action.regexRewrite.pattern, action.regexRewrite.substitution) + (q < 0 ? "" : path.slice(q));
  }
  return path;
}
