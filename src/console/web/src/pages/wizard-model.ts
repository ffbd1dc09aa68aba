// What a wizard reads from and writes to the routing that exists: its form is filled from the service's current
// VirtualService and DestinationRule, and saving changes only the fields that wizard owns, so a circuit breaker never
// wipes a traffic shift and a fault never drops the routes it sits on.
import type { Resource } from "../api";

export const WIZARD_LABEL = "trellis.io/created-by";
export const WIZARD_VALUE = "console-wizard";

export interface Form {
  weights: Record<string, number>;
  header: { name: string; value: string; version: string };
  fault: { delayPct: number; delay: string; abortPct: number; status: number };
  timeout: string;
  retries: { attempts: number; perTryTimeout: string };
  breaker: { maxPending: number; maxRequestsPerConnection: number; consecutive5xx: number; interval: string; ejection: string };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);

/** Whether a VirtualService's or DestinationRule's host names this service (short name or FQDN). */
export function namesService(host: unknown, service: string, namespace: string): boolean {
  return typeof host === "string" && (host === service || host === `${service}.${namespace}` || host.startsWith(`${service}.${namespace}.svc`));
}

export function routingOf(resources: Resource[], service: string, namespace: string): { vs?: Resource; dr?: Resource } {
  const here = resources.filter((r) => (r.metadata.namespace ?? "default") === namespace);
  return {
    vs: here.find((r) => r.kind === "VirtualService" && (r.spec?.hosts as unknown[] | undefined)?.some((h) => namesService(h, service, namespace))),
    dr: here.find((r) => r.kind === "DestinationRule" && namesService(r.spec?.host, service, namespace)),
  };
}

export const createdByWizard = (r: Resource | undefined) => !!r && (r.metadata.labels as Record<string, string> | undefined)?.[WIZARD_LABEL] === WIZARD_VALUE;

/** The route every request without a more specific match takes: the last one with no match. */
function defaultRoute(http: Obj[]): Obj | undefined {
  for (let i = http.length - 1; i >= 0; i--) if (!http[i].match) return http[i];
  return undefined;
}

export function defaultForm(versions: string[]): Form {
  const even = Math.floor(100 / Math.max(1, versions.length));
  return {
    weights: Object.fromEntries(versions.map((v, i) => [v, i === 0 ? 100 - even * (versions.length - 1) : even])),
    header: { name: "end-user", value: "", version: versions[versions.length - 1] ?? "" },
    fault: { delayPct: 0, delay: "5s", abortPct: 0, status: 503 },
    timeout: "2s",
    retries: { attempts: 3, perTryTimeout: "1s" },
    breaker: { maxPending: 1, maxRequestsPerConnection: 1, consecutive5xx: 5, interval: "10s", ejection: "30s" },
  };
}

/** The form as the existing routing sets it; what it does not set keeps the defaults. */
export function formFrom(versions: string[], vs?: Resource, dr?: Resource): Form {
  const f = defaultForm(versions);
  const http = arr(vs?.spec?.http);
  const main = defaultRoute(http);
  if (main) {
    const routes = arr(main.route);
    if (routes.some((r) => obj(r.destination).subset)) {
      f.weights = Object.fromEntries(versions.map((v) => [v, 0]));
      for (const r of routes) {
        const subset = String(obj(r.destination).subset ?? "");
        if (subset in f.weights) f.weights[subset] = routes.length === 1 ? 100 : Number(r.weight ?? 0);
      }
    }
    const fault = obj(main.fault);
    const delay = obj(fault.delay);
    const abort = obj(fault.abort);
    if (fault.delay) f.fault = { ...f.fault, delay: String(delay.fixedDelay ?? f.fault.delay), delayPct: Number(obj(delay.percentage).value ?? 100) };
    if (fault.abort) f.fault = { ...f.fault, status: Number(abort.httpStatus ?? f.fault.status), abortPct: Number(obj(abort.percentage).value ?? 100) };
    if (typeof main.timeout === "string") f.timeout = main.timeout;
    const retries = obj(main.retries);
    if (main.retries) f.retries = { attempts: Number(retries.attempts ?? f.retries.attempts), perTryTimeout: String(retries.perTryTimeout ?? f.retries.perTryTimeout) };
  }
  const matched = http.find((h) => h.match && arr(h.match).some((m) => m.headers));
  if (matched) {
    const [name, cond] = Object.entries(obj(arr(matched.match)[0].headers))[0] ?? [];
    const version = String(obj(arr(matched.route)[0]?.destination).subset ?? f.header.version);
    if (name) f.header = { name, value: String(obj(cond).exact ?? ""), version };
  }
  const policy = obj(dr?.spec?.trafficPolicy);
  const pool = obj(obj(policy.connectionPool).http);
  const outlier = obj(policy.outlierDetection);
  if (policy.connectionPool || policy.outlierDetection) {
    f.breaker = {
      maxPending: Number(pool.http1MaxPendingRequests ?? f.breaker.maxPending), maxRequestsPerConnection: Number(pool.maxRequestsPerConnection ?? f.breaker.maxRequestsPerConnection),
      consecutive5xx: Number(outlier.consecutive5xxErrors ?? f.breaker.consecutive5xx), interval: String(outlier.interval ?? f.breaker.interval), ejection: String(outlier.baseEjectionTime ?? f.breaker.ejection),
    };
  }
  return f;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function base(kind: string, service: string, namespace: string, existing: Resource | undefined): Resource {
  if (existing) {
    // What a person set is kept; what the server manages (uid, generation, timestamps, version) is not sent back.
    const { name, namespace: ns, labels, annotations } = existing.metadata;
    return { ...clone(existing), metadata: clone({ name, namespace: ns, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) }) };
  }
  return { apiVersion: "networking.istio.io/v1", kind, metadata: { name: service, namespace, labels: { [WIZARD_LABEL]: WIZARD_VALUE } }, spec: {} };
}

/** The DestinationRule with a subset per version (those it had are kept), and the breaker when that is the wizard. */
function withSubsets(dr: Resource, service: string, versions: string[]): Resource {
  const spec = dr.spec!;
  spec.host ??= service;
  const subsets = arr(spec.subsets);
  for (const v of versions) if (!subsets.some((s) => s.name === v)) subsets.push({ name: v, labels: { version: v } });
  spec.subsets = subsets;
  return dr;
}

/**
 * The resources a wizard saves: only the VirtualService's fields the wizard owns change (the default route's
 * destinations, its fault, its timeout and retries, the header match), or only the DestinationRule's traffic policy.
 */
export function applyWizard(type: string, service: string, namespace: string, versions: string[], f: Form, existing: { vs?: Resource; dr?: Resource }): Resource[] {
  const dr = withSubsets(base("DestinationRule", service, namespace, existing.dr), service, versions);
  if (type === "breaker") {
    dr.spec!.trafficPolicy = {
      ...obj(dr.spec!.trafficPolicy),
      connectionPool: { ...obj(obj(dr.spec!.trafficPolicy).connectionPool), http: { http1MaxPendingRequests: f.breaker.maxPending, maxRequestsPerConnection: f.breaker.maxRequestsPerConnection } },
      outlierDetection: { consecutive5xxErrors: f.breaker.consecutive5xx, interval: f.breaker.interval, baseEjectionTime: f.breaker.ejection, maxEjectionPercent: 100 },
    };
    return [dr];
  }
  const vs = base("VirtualService", service, namespace, existing.vs);
  vs.spec!.hosts ??= [service];
  let http = arr(vs.spec!.http);
  let main = defaultRoute(http);
  if (!main) http.push((main = { route: [{ destination: { host: service } }] }));
  const host = String(obj(arr(main.route)[0]?.destination).host ?? service);
  if (type === "routing" || type === "shifting") {
    main.route = versions.filter((v) => (f.weights[v] ?? 0) > 0).map((v) => ({ destination: { host, subset: v }, weight: f.weights[v] }));
  }
  if (type === "routing") {
    http = http.filter((h) => !(h.match && arr(h.match).some((m) => m.headers)));
    if (f.header.name && f.header.value) http.unshift({ match: [{ headers: { [f.header.name.toLowerCase()]: { exact: f.header.value } } }], route: [{ destination: { host, subset: f.header.version } }] });
  }
  if (type === "fault") {
    const fault = {
      ...(f.fault.delayPct > 0 ? { delay: { fixedDelay: f.fault.delay, percentage: { value: f.fault.delayPct } } } : {}),
      ...(f.fault.abortPct > 0 ? { abort: { httpStatus: f.fault.status, percentage: { value: f.fault.abortPct } } } : {}),
    };
    if (Object.keys(fault).length) main.fault = fault;
    else delete main.fault;
  }
  if (type === "timeouts") {
    if (f.timeout) main.timeout = f.timeout;
    else delete main.timeout;
    main.retries = { attempts: f.retries.attempts, perTryTimeout: f.retries.perTryTimeout, retryOn: "gateway-error,connect-failure,refused-stream" };
  }
  vs.spec!.http = http;
  // The DestinationRule is written only when a route needs a subset it lacks: otherwise it is not this wizard's.
  const usesSubsets = JSON.stringify(http).includes('"subset"');
  const drChanged = !existing.dr || JSON.stringify(existing.dr.spec) !== JSON.stringify(dr.spec);
  return usesSubsets && drChanged ? [dr, vs] : [vs];
}
