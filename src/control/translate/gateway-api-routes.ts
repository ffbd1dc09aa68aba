// Gateway API route rules as Istio http, tcp and tls routes (what Istio's own conversion does): HTTPRoute matches
// (path Exact/PathPrefix/RegularExpression, headers, query parameters, method) and filters (RequestHeaderModifier,
// ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror), timeouts and weighted backendRefs; GRPCRoute
// method matches as paths; TLSRoute and TCPRoute backends. A rule whose backends cannot be used answers 500, as the
// spec asks; a value the translation cannot honour is returned as a problem, never dropped.
import { DOMAIN_SUFFIX } from "./services.js";

type Json = Record<string, unknown>;

export interface BackendRef { group?: string; kind?: string; name: string; namespace?: string; port?: number; weight?: number; filters?: RouteFilter[] }
interface HeaderMatch { type?: string; name: string; value: string }
interface PathMatch { type?: string; value?: string }
interface HTTPRouteMatch { path?: PathMatch; headers?: HeaderMatch[]; queryParams?: HeaderMatch[]; method?: string }
interface GRPCRouteMatch { method?: { type?: string; service?: string; method?: string }; headers?: HeaderMatch[] }
interface HeaderModifier { set?: Array<{ name: string; value: string }>; add?: Array<{ name: string; value: string }>; remove?: string[] }
export interface RouteFilter {
  type: string;
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestRedirect?: { scheme?: string; hostname?: string; port?: number; statusCode?: number; path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string } };
  urlRewrite?: { hostname?: string; path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string } };
  requestMirror?: { backendRef: BackendRef };
}
export interface RouteRule { matches?: Array<HTTPRouteMatch & GRPCRouteMatch>; filters?: RouteFilter[]; backendRefs?: BackendRef[]; timeouts?: { request?: string; backendRequest?: string } }

/** Whether a backendRef may be used (exists, same namespace or granted): decided by the caller, who sets the status. */
export type BackendCheck = (ref: BackendRef) => { ok: true; host: string } | { ok: false; reason: string; message: string };

export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${DOMAIN_SUFFIX}`;
}

function stringMatch(type: string | undefined, value: string): Json {
  return type === "RegularExpression" ? { regex: value } : { exact: value };
}

function headerMap(list: HeaderMatch[] | undefined): Json | undefined {
  if (!list?.length) return undefined;
  return Object.fromEntries(list.map((h) => [h.name.toLowerCase(), stringMatch(h.type, h.value)]));
}

/** The Istio matches for one HTTPRoute match: PathPrefix is element-wise ("/a" is "/a" or "/a/..."), so it takes two. */
function httpMatches(m: HTTPRouteMatch, grpc: boolean): Json[] {
  const common: Json = {
    ...(headerMap(m.headers) ? { headers: headerMap(m.headers) } : {}),
    ...(m.queryParams?.length ? { queryParams: Object.fromEntries(m.queryParams.map((q) => [q.name, stringMatch(q.type, q.value)])) } : {}),
    ...(!grpc && m.method ? { method: { exact: m.method } } : {}),
  };
  if (grpc) {
    const gm = (m as GRPCRouteMatch).method;
    if (!gm?.service && !gm?.method) return [common];
    if (gm.type === "RegularExpression") return [{ ...common, uri: { regex: `/${gm.service ?? "[^/]+"}/${gm.method ?? "[^/]+"}` } }];
    return [{ ...common, uri: gm.method ? (gm.service ? { exact: `/${gm.service}/${gm.method}` } : { regex: `/[^/]+/${gm.method}` }) : { prefix: `/${gm.service}/` } }];
  }
  const path = m.path ?? { type: "PathPrefix", value: "/" };
  const value = path.value ?? "/";
  if (path.type === "Exact") return [{ ...common, uri: { exact: value } }];
  if (path.type === "RegularExpression") return [{ ...common, uri: { regex: value } }];
  const trimmed = value.replace(/\/+$/, "");
  if (!trimmed) return [{ ...common, uri: { prefix: "/" } }];
  return [{ ...common, uri: { exact: trimmed } }, { ...common, uri: { prefix: `${trimmed}/` } }];
}

function headerOps(m: HeaderModifier | undefined): Json | undefined {
  if (!m) return undefined;
  const map = (l?: Array<{ name: string; value: string }>) => (l?.length ? Object.fromEntries(l.map((h) => [h.name, h.value])) : undefined);
  return { ...(map(m.set) ? { set: map(m.set) } : {}), ...(map(m.add) ? { add: map(m.add) } : {}), ...(m.remove?.length ? { remove: m.remove } : {}) };
}

/** The rule's filters applied to an Istio http route; problems name what cannot be honoured. */
function applyFilters(route: Json, filters: RouteFilter[], check: BackendCheck, problems: string[], where: string): void {
  const headers: Json = {};
  filters.forEach((f, i) => {
    const at = `${where}.filters[${i}]`;
    switch (f.type) {
      case "RequestHeaderModifier": headers.request = headerOps(f.requestHeaderModifier); break;
      case "ResponseHeaderModifier": headers.response = headerOps(f.responseHeaderModifier); break;
      case "RequestRedirect": {
        const r = f.requestRedirect ?? {};
        if (r.path?.type === "ReplacePrefixMatch") { problems.push(`${at}.requestRedirect.path: ReplacePrefixMatch is not supported in redirects (ReplaceFullPath is)`); break; }
        route.redirect = { ...(r.scheme ? { scheme: r.scheme } : {}), ...(r.hostname ? { authority: r.hostname } : {}), ...(r.port ? { port: r.port } : {}), ...(r.path?.replaceFullPath ? { uri: r.path.replaceFullPath } : {}), redirectCode: r.statusCode ?? 302 };
        break;
      }
      case "URLRewrite": {
        const u = f.urlRewrite ?? {};
        const rewrite: Json = { ...(u.hostname ? { authority: u.hostname } : {}) };
        if (u.path?.type === "ReplacePrefixMatch") rewrite.uri = u.path.replacePrefixMatch ?? "/";
        else if (u.path?.type === "ReplaceFullPath") rewrite.uriRegexRewrite = { match: "^/.*$", rewrite: u.path.replaceFullPath ?? "/" };
        route.rewrite = rewrite;
        break;
      }
      case "RequestMirror": {
        const c = check(f.requestMirror!.backendRef);
        if (c.ok) route.mirror = { host: c.host, ...(f.requestMirror!.backendRef.port ? { port: { number: f.requestMirror!.backendRef.port } } : {}) };
        else problems.push(`${at}.requestMirror.backendRef: ${c.message}`);
        break;
      }
      default: problems.push(`${at}: filter type ${f.type} is not supported (RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror are)`);
    }
  });
  if (headers.request || headers.response) route.headers = headers;
}

/** One Istio http route per rule (its matches, its filters, its weighted backends, its request timeout). */
export function httpRules(rules: RouteRule[], check: BackendCheck, grpc: boolean, problems: string[]): Json[] {
  return rules.map((rule, i) => {
    const where = `spec.rules[${i}]`;
    const route: Json = {};
    const matches = (rule.matches ?? []).flatMap((m) => httpMatches(m, grpc));
    if (matches.length) route.match = matches;
    applyFilters(route, rule.filters ?? [], check, problems, where);
    if (rule.timeouts?.request && rule.timeouts.request !== "0s") route.timeout = rule.timeouts.request;
    if (route.redirect) return route;
    const backends = (rule.backendRefs ?? []).map((b, j) => ({ b, c: check(b), j }));
    for (const { c, j } of backends) if (!c.ok) problems.push(`${where}.backendRefs[${j}]: ${c.message}`);
    const usable = backends.filter((x) => x.c.ok && (x.b.weight ?? 1) > 0);
    // No usable backend: the spec's 500, rather than a route to nowhere.
    if (!usable.length) return { ...route, directResponse: { status: 500 } };
    for (const { b, j } of usable) if (b.filters?.length) problems.push(`${where}.backendRefs[${j}].filters: per-backend filters are not supported; put them on the rule`);
    route.route = usable.map(({ b, c }) => ({ destination: { host: (c as { host: string }).host, ...(b.port ? { port: { number: b.port } } : {}) }, weight: b.weight ?? 1 }));
    return route;
  });
}

/** TLSRoute and TCPRoute rules: their backends, weighted. */
export function l4Backends(rules: RouteRule[], check: BackendCheck, problems: string[]): Json[] {
  const out: Json[] = [];
  rules.forEach((rule, i) => (rule.backendRefs ?? []).forEach((b, j) => {
    const c = check(b);
    if (!c.ok) problems.push(`spec.rules[${i}].backendRefs[${j}]: ${c.message}`);
    else if ((b.weight ?? 1) > 0) out.push({ destination: { host: c.host, ...(b.port ? { port: { number: b.port } } : {}) }, weight: b.weight ?? 1 });
  }));
  return out;
}
