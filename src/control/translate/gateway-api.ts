// The Gateway API (gateway.networking.k8s.io) in universal mode, converted as Istio converts it: each listener of a
// Gateway whose GatewayClass names our controller becomes an Istio Gateway server for the gateway proxy labelled
// gateway.networking.k8s.io/gateway-name=NAME in the Gateway's namespace, and each route attached to listeners
// becomes a VirtualService bound to them. The same pass computes the status the spec asks for: Accepted, Programmed,
// ResolvedRefs (and Conflicted on listeners) with the spec's reasons. Pure: inputs in, resources and status out.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import type { GatewaySpec } from "./gateway-servers.js";
import { intersectHosts } from "./gateway-hosts.js";
import { type BackendCheck, type BackendRef, httpRules, l4Backends, type RouteRule, serviceHost } from "./gateway-api-routes.js";
import type { CredentialLookup } from "./gateway-tls.js";
import type { Service } from "./services.js";

type Json = Record<string, unknown>;

export const CONTROLLER_NAME = "trellis.dev/gateway-controller";
export const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";
const GROUP = "gateway.networking.k8s.io";
const ROUTE_KINDS = ["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute"];

interface Listener {
  name: string; port: number; protocol: string; hostname?: string;
  tls?: { mode?: string; certificateRefs?: Array<{ group?: string; kind?: string; name: string; namespace?: string }> };
  allowedRoutes?: { namespaces?: { from?: string }; kinds?: Array<{ group?: string; kind: string }> };
}
interface ParentRef { group?: string; kind?: string; name: string; namespace?: string; sectionName?: string; port?: number }
interface RouteSpec { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: RouteRule[] }

export interface GatewayApiContext {
  services: Map<string, Service>;
  /** Connected gateway proxies (Programmed status); omitted when only translating. */
  proxies?: Workload[];
  /** Secrets for certificateRefs (ResolvedRefs status); omitted when only translating. */
  credentials?: CredentialLookup;
}

export interface GatewayApiResult {
  /** Istio Gateways and VirtualServices standing for the Gateway API's resources. */
  resources: IstioResource[];
  /** Status by "Kind/namespace/name" (GatewayClass: "GatewayClass//name"). */
  status: Map<string, Json>;
}

const isApi = (r: IstioResource) => r.apiVersion.startsWith(`${GROUP}/`);
const nsOf = (r: IstioResource) => r.metadata.namespace ?? "default";
export const statusKey = (kind: string, namespace: string | undefined, name: string) => `${kind}/${namespace ?? ""}/${name}`;

function condition(r: IstioResource, type: string, ok: boolean, reason: string, message = ""): Json {
  // Status is computed, not stored: the resource's creation time stands for the transition time.
  return { type, status: ok ? "True" : "False", reason, message, observedGeneration: r.metadata.generation ?? 1, lastTransitionTime: r.metadata.creationTimestamp ?? "1970-01-01T00:00:00Z" };
}

function protocolKinds(protocol: string): string[] {
  return protocol === "HTTP" || protocol === "HTTPS" ? ["HTTPRoute", "GRPCRoute"] : protocol === "TLS" ? ["TLSRoute"] : protocol === "TCP" ? ["TCPRoute"] : [];
}

/** A route's permission to use a backend: a Service that exists, in its namespace or granted by a ReferenceGrant there. */
function backendCheck(route: IstioResource, grants: IstioResource[], services: Map<string, Service>): BackendCheck {
  return (ref: BackendRef) => {
    if ((ref.group ?? "") !== "" || (ref.kind ?? "Service") !== "Service") return { ok: false, reason: "InvalidKind", message: `backend kind ${ref.group ?? ""}/${ref.kind} is not supported (Service is)` };
    const ns = ref.namespace ?? nsOf(route);
    if (ns !== nsOf(route) && !granted(grants, route, ns, "", "Service", ref.name)) return { ok: false, reason: "RefNotPermitted", message: `Service ${ns}/${ref.name} is in another namespace and no ReferenceGrant there allows ${route.kind}s from ${nsOf(route)}` };
    const host = serviceHost(ref.name, ns);
    if (!services.has(host)) return { ok: false, reason: "BackendNotFound", message: `Service ${ns}/${ref.name} not found` };
    return { ok: true, host };
  };
}

function granted(grants: IstioResource[], from: IstioResource, toNs: string, toGroup: string, toKind: string, toName: string): boolean {
  return grants.some((g) => {
    const spec = g.spec as { from?: Array<{ group?: string; kind?: string; namespace?: string }>; to?: Array<{ group?: string; kind?: string; name?: string }> };
    return nsOf(g) === toNs && (spec.from ?? []).some((f) => f.group === GROUP && f.kind === from.kind && f.namespace === nsOf(from))
      && (spec.to ?? []).some((t) => (t.group ?? "") === toGroup && t.kind === toKind && (!t.name || t.name === toName));
  });
}

interface ListenerState { listener: Listener; ok: boolean; conditions: Json[]; attached: number; syntheticKey: string }

/** A Gateway's listeners checked (protocol, TLS, kinds, conflicts) and turned into Istio servers. */
function convertGateway(gw: IstioResource, ctx: GatewayApiContext, out: GatewayApiResult): ListenerState[] {
  const listeners = ((gw.spec as { listeners?: Listener[] }).listeners ?? []);
  const ns = nsOf(gw);
  const states = listeners.map((l): ListenerState => {
    const c = (type: string, ok: boolean, reason: string, message = "") => condition(gw, type, ok, reason, message);
    const state: ListenerState = { listener: l, ok: true, conditions: [], attached: 0, syntheticKey: `${ns}/${gw.metadata.name}:${l.name}` };
    const fail = (type: string, reason: string, message: string) => { state.ok = false; state.conditions.push(c(type, false, reason, message)); };
    if (!protocolKinds(l.protocol).length) fail("Accepted", "UnsupportedProtocol", `protocol ${l.protocol} is not supported (HTTP, HTTPS, TLS, TCP are)`);
    const clash = listeners.find((o) => o !== l && o.port === l.port && protocolKinds(o.protocol).join() !== protocolKinds(l.protocol).join());
    const twin = listeners.find((o) => o !== l && o.port === l.port && o.protocol === l.protocol && (o.hostname ?? "") === (l.hostname ?? ""));
    if (clash) fail("Conflicted", "ProtocolConflict", `listener ${clash.name} uses port ${l.port} with protocol ${clash.protocol}`);
    else if (twin) fail("Conflicted", "HostnameConflict", `listener ${twin.name} uses port ${l.port}, protocol ${l.protocol} and the same hostname`);
    const bad = (l.allowedRoutes?.kinds ?? []).filter((k) => (k.group ?? GROUP) !== GROUP || !protocolKinds(l.protocol).includes(k.kind));
    if (bad.length) fail("ResolvedRefs", "InvalidRouteKinds", `route kinds ${bad.map((k) => k.kind).join(", ")} cannot attach to a ${l.protocol} listener (${protocolKinds(l.protocol).join(", ")} can)`);
    const tls = tlsOf(l, ns, ctx);
    if ("error" in tls) fail("ResolvedRefs", tls.reason, tls.error);
    if (state.ok) {
      state.conditions.push(c("Accepted", true, "Accepted"), c("ResolvedRefs", true, "ResolvedRefs"), c("Conflicted", false, "NoConflicts"));
      const spec: GatewaySpec & { namespaceScoped: boolean } = {
        selector: { [GATEWAY_NAME_LABEL]: gw.metadata.name }, namespaceScoped: true,
        servers: [{ name: l.name, port: { number: l.port, name: l.name, protocol: l.protocol }, hosts: [l.hostname ?? "*"], ...("tls" in tls && tls.tls ? { tls: tls.tls } : {}) }],
      };
      out.resources.push({ apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: `${gw.metadata.name}:${l.name}`, namespace: ns, creationTimestamp: gw.metadata.creationTimestamp }, spec: spec as unknown as Json });
    }
    return state;
  });
  return states;
}

function tlsOf(l: Listener, ns: string, ctx: GatewayApiContext): { tls?: Json } | { error: string; reason: string } {
  if (l.protocol === "HTTP" || l.protocol === "TCP") return {};
  const mode = l.tls?.mode ?? "Terminate";
  if (mode === "Passthrough") return l.protocol === "TLS" ? { tls: { mode: "PASSTHROUGH" } } : { error: "tls.mode Passthrough needs protocol TLS", reason: "UnsupportedValue" };
  const ref = l.tls?.certificateRefs?.[0];
  if (!ref) return { error: "tls.certificateRefs is required to terminate TLS", reason: "InvalidCertificateRef" };
  if ((ref.group ?? "") !== "" || (ref.kind ?? "Secret") !== "Secret") return { error: `certificateRef kind ${ref.kind} is not supported (Secret is)`, reason: "InvalidCertificateRef" };
  if ((ref.namespace ?? ns) !== ns) return { error: `certificateRef ${ref.namespace}/${ref.name}: secrets of other namespaces are not served in universal mode; create the secret in ${ns}`, reason: "RefNotPermitted" };
  const found = ctx.credentials?.(ns, ref.name);
  if (found && !found.material) return { error: `certificateRef ${ns}/${ref.name}: ${found.error}`, reason: "InvalidCertificateRef" };
  if ((l.tls?.certificateRefs?.length ?? 0) > 1) return { error: "only one certificateRef per listener is served", reason: "InvalidCertificateRef" };
  return { tls: { mode: "SIMPLE", credentialName: ref.name } };
}

function routeHostsMeet(route: RouteSpec, l: Listener): boolean {
  if (!route.hostnames?.length || !l.hostname) return true;
  return route.hostnames.some((h) => intersectHosts(l.hostname!.toLowerCase(), h.toLowerCase()) !== undefined);
}

/** Attaches a route to the listeners its parentRefs name; one status entry per parentRef. */
function attachRoute(route: IstioResource, gateways: Map<string, { gw: IstioResource; listeners: ListenerState[] }>, ctx: GatewayApiContext, grants: IstioResource[], out: GatewayApiResult): void {
  const spec = route.spec as RouteSpec;
  const problems: string[] = [];
  const check = backendCheck(route, grants, ctx.services);
  const backendProblems: Array<{ reason: string; message: string }> = [];
  const trackingCheck: BackendCheck = (ref) => { const c = check(ref); if (!c.ok) backendProblems.push(c); return c; };
  const keys: string[] = [];
  const meshHosts: Array<{ host: string; port?: number }> = [];
  const parents: Json[] = [];
  for (const ref of spec.parentRefs ?? []) {
    if ((ref.group ?? GROUP) === "" && ref.kind === "Service") {
      attachToService(route, ref, ctx, meshHosts, parents);
      continue;
    }
    if ((ref.group ?? GROUP) !== GROUP || (ref.kind ?? "Gateway") !== "Gateway") continue;
    const entry = gateways.get(`${ref.namespace ?? nsOf(route)}/${ref.name}`);
    const parentRef = { group: GROUP, kind: "Gateway", namespace: ref.namespace ?? nsOf(route), name: ref.name, ...(ref.sectionName ? { sectionName: ref.sectionName } : {}), ...(ref.port ? { port: ref.port } : {}) };
    const accepted = (ok: boolean, reason: string, message = "") => parents.push({ parentRef, controllerName: CONTROLLER_NAME, conditions: [condition(route, "Accepted", ok, reason, message)] });
    if (!entry) { accepted(false, "NoMatchingParent", `no Gateway ${parentRef.namespace}/${ref.name} of class with controller ${CONTROLLER_NAME}`); continue; }
    const named = entry.listeners.filter((s) => (!ref.sectionName || s.listener.name === ref.sectionName) && (!ref.port || s.listener.port === ref.port));
    if (!named.length) { accepted(false, "NoMatchingParent", `Gateway ${parentRef.namespace}/${ref.name} has no listener ${ref.sectionName ?? ""}${ref.port ? ` on port ${ref.port}` : ""}`); continue; }
    const allowed = named.filter((s) => s.ok && protocolKinds(s.listener.protocol).includes(route.kind) && ((s.listener.allowedRoutes?.namespaces?.from ?? "Same") === "All" || ((s.listener.allowedRoutes?.namespaces?.from ?? "Same") === "Same" && nsOf(entry.gw) === nsOf(route))));
    if (!allowed.length) { accepted(false, "NotAllowedByListeners", `the listeners of Gateway ${parentRef.namespace}/${ref.name} do not allow ${route.kind}s from namespace ${nsOf(route)} (allowedRoutes; namespaces.from Selector is not served in universal mode)`); continue; }
    const meeting = allowed.filter((s) => routeHostsMeet(spec, s.listener));
    if (!meeting.length) { accepted(false, "NoMatchingListenerHostname", `no listener hostname of Gateway ${parentRef.namespace}/${ref.name} meets the route's hostnames`); continue; }
    for (const s of meeting) { s.attached++; keys.push(s.syntheticKey); }
    accepted(true, "Accepted");
  }
  const vs = keys.length ? routeVirtualService(route, spec, keys, trackingCheck, problems) : undefined;
  if (vs) out.resources.push(vs);
  // GAMMA: the route applies to the mesh's calls to each Service it names, hostnames aside.
  for (const { host, port } of meshHosts) {
    const mesh = routeVirtualService(route, { ...spec, hostnames: [host] }, ["mesh"], trackingCheck, problems);
    if (!mesh) continue;
    // A parentRef port limits the route to calls to that port of the Service.
    if (port) for (const h of (mesh.spec as { http?: Json[] }).http ?? []) h.match = ((h.match as Json[] | undefined) ?? [{}]).map((m) => ({ ...m, port }));
    out.resources.push({ ...mesh, metadata: { ...mesh.metadata, name: `${mesh.metadata.name}:${host}` } });
  }
  for (const p of parents) {
    const conditions = p.conditions as Json[];
    if (problems.length && conditions[0].status === "True") conditions[0] = condition(route, "Accepted", false, "UnsupportedValue", [...new Set(problems)].join("; "));
    conditions.push(backendProblems.length ? condition(route, "ResolvedRefs", false, backendProblems[0].reason, [...new Set(backendProblems.map((b) => b.message))].join("; ")) : condition(route, "ResolvedRefs", true, "ResolvedRefs"));
  }
  out.status.set(statusKey(route.kind, nsOf(route), route.metadata.name), { parents });
}

/** A mesh (GAMMA) parentRef: a Service of the route's namespace (or granted) that exists; HTTPRoute and GRPCRoute only. */
function attachToService(route: IstioResource, ref: ParentRef, ctx: GatewayApiContext, hosts: Array<{ host: string; port?: number }>, parents: Json[]): void {
  const parentRef = { group: "", kind: "Service", namespace: ref.namespace ?? nsOf(route), name: ref.name, ...(ref.port ? { port: ref.port } : {}) };
  const accepted = (ok: boolean, reason: string, message = ""): void => void parents.push({ parentRef, controllerName: CONTROLLER_NAME, conditions: [condition(route, "Accepted", ok, reason, message)] });
  if (route.kind !== "HTTPRoute" && route.kind !== "GRPCRoute") return accepted(false, "NotAllowedByListeners", `${route.kind}s do not attach to Services in the mesh (HTTPRoute and GRPCRoute do)`);
  if (ref.sectionName) return accepted(false, "UnsupportedValue", "sectionName on a Service parentRef is not supported; use port");
  const host = serviceHost(ref.name, parentRef.namespace);
  if (!ctx.services.has(host)) return accepted(false, "NoMatchingParent", `Service ${parentRef.namespace}/${ref.name} not found`);
  hosts.push({ host, port: ref.port });
  accepted(true, "Accepted");
}

function routeVirtualService(route: IstioResource, spec: RouteSpec, gateways: string[], check: BackendCheck, problems: string[]): IstioResource | undefined {
  const hosts = spec.hostnames?.length ? spec.hostnames : ["*"];
  const body: Json = { hosts, gateways };
  if (route.kind === "HTTPRoute" || route.kind === "GRPCRoute") body.http = httpRules(spec.rules ?? [], check, route.kind === "GRPCRoute", problems);
  else if (route.kind === "TCPRoute") body.tcp = [{ route: l4Backends(spec.rules ?? [], check, problems) }];
  else {
    if (!spec.hostnames?.length) { problems.push("spec.hostnames: a TLSRoute needs hostnames to route by SNI"); return undefined; }
    body.tls = [{ match: [{ sniHosts: spec.hostnames }], route: l4Backends(spec.rules ?? [], check, problems) }];
  }
  return { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: `${route.kind.toLowerCase()}:${route.metadata.name}`, namespace: nsOf(route), creationTimestamp: route.metadata.creationTimestamp }, spec: body };
}

/** Converts every Gateway API resource of our controller; the rest are left to their own controllers. */
export function convertGatewayApi(resources: IstioResource[], ctx: GatewayApiContext): GatewayApiResult {
  const out: GatewayApiResult = { resources: [], status: new Map() };
  const api = resources.filter(isApi);
  if (!api.length) return out;
  const ours = new Set(api.filter((r) => r.kind === "GatewayClass" && (r.spec as { controllerName?: string }).controllerName === CONTROLLER_NAME).map((c) => {
    out.status.set(statusKey("GatewayClass", undefined, c.metadata.name), { conditions: [condition(c, "Accepted", true, "Accepted", `handled by ${CONTROLLER_NAME}`)] });
    return c.metadata.name;
  }));
  const gateways = new Map<string, { gw: IstioResource; listeners: ListenerState[] }>();
  for (const gw of api.filter((r) => r.kind === "Gateway" && ours.has((r.spec as { gatewayClassName?: string }).gatewayClassName ?? ""))) {
    gateways.set(`${nsOf(gw)}/${gw.metadata.name}`, { gw, listeners: convertGateway(gw, ctx, out) });
  }
  const grants = api.filter((r) => r.kind === "ReferenceGrant");
  const sorted = api.filter((r) => ROUTE_KINDS.includes(r.kind)).sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
  for (const route of sorted) attachRoute(route, gateways, ctx, grants, out);
  for (const { gw, listeners } of gateways.values()) out.status.set(statusKey("Gateway", nsOf(gw), gw.metadata.name), gatewayStatus(gw, listeners, ctx));
  return out;
}

function gatewayStatus(gw: IstioResource, listeners: ListenerState[], ctx: GatewayApiContext): Json {
  const proxy = ctx.proxies?.find((p) => p.namespace === nsOf(gw) && p.labels[GATEWAY_NAME_LABEL] === gw.metadata.name);
  const start = `trellis gateway -n ${nsOf(gw)} --name ${gw.metadata.name} --labels ${GATEWAY_NAME_LABEL}=${gw.metadata.name} --port PORT[=HOSTPORT]/PROTOCOL ...`;
  const anyOk = listeners.some((l) => l.ok);
  return {
    ...(proxy ? { addresses: [{ type: "IPAddress", value: proxy.address }] } : {}),
    conditions: [
      anyOk || !listeners.length ? condition(gw, "Accepted", true, "Accepted") : condition(gw, "Accepted", false, "ListenersNotValid", "no listener is valid"),
      proxy ? condition(gw, "Programmed", anyOk, anyOk ? "Programmed" : "Invalid") : condition(gw, "Programmed", false, "Pending", `no gateway proxy for it is connected; start one: ${start}`),
    ],
    listeners: listeners.map((s) => ({
      name: s.listener.name, attachedRoutes: s.attached,
      supportedKinds: protocolKinds(s.listener.protocol).map((kind) => ({ group: GROUP, kind })),
      conditions: [...s.conditions, condition(gw, "Programmed", s.ok && !!proxy, s.ok ? (proxy ? "Programmed" : "Pending") : "Invalid")],
    })),
  };
}
