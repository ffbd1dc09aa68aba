// The route configuration of a gateway's HTTP servers: one virtual host per domain where a bound VirtualService's
// hosts meet a server's, holding the http routes of every VirtualService bound there in creation order (Istio merges
// VirtualServices on gateways); a server with httpsRedirect answers every request with a redirect to https; a
// request no route matches gets 404 (Envoy's NR), as at Istio's gateways.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { type BoundServer, type GatewayProblem, serverLabel } from "./gateway-servers.js";
import { boundVirtualServices } from "./gateway-hosts.js";
import { routeFor, type VirtualServiceSpec } from "./virtual-services.js";
import { fqdn, type Service } from "./services.js";

type Json = Record<string, unknown>;

export interface GatewayRouteContext {
  proxy: Workload;
  services: Map<string, Service>;
  vss: Array<IstioResource<VirtualServiceSpec>>;
  hashPolicies(hostname: string, subset: string | undefined, port: number): Json[];
  problems: GatewayProblem[];
}

/** The hosts a VirtualService sends to (http routes and mirrors, tcp and tls routes), so the gateway gets their clusters. */
export function vsDestinations(vs: IstioResource<VirtualServiceSpec>): string[] {
  const ns = vs.metadata.namespace ?? "default";
  const hosts = [
    ...(vs.spec.http ?? []).flatMap((h) => [...(h.route ?? []).map((r) => r.destination), ...(h.mirror ? [h.mirror] : [])]),
    ...[...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])].flatMap((r) => (r.route ?? []).map((d) => d.destination)),
  ].map((d) => fqdn(d.host, ns));
  return [...new Set(hosts)];
}

function domainsOf(domain: string, port: number): string[] {
  return domain === "*" ? ["*"] : [domain, `${domain}:${port}`];
}

/** A virtual host's routes from one bound VirtualService, for the Gateway that bound it. */
function routesOf(vs: IstioResource<VirtualServiceSpec>, s: BoundServer, domain: string, port: number, ctx: GatewayRouteContext): Json[] {
  const ns = vs.metadata.namespace ?? "default";
  const service: Service = ctx.services.get(domain) ?? { name: domain, namespace: ns, hostname: domain, ports: [], endpoints: [] };
  const rc = { service, port, proxy: ctx.proxy, services: ctx.services, hashPolicies: ctx.hashPolicies, gateway: s.gatewayKey };
  const out: Json[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    const matches = r.match?.length ? r.match : [undefined];
    matches.forEach((m, j) => {
      const route = routeFor(r, m, ns, rc, `${vs.metadata.name}.${i}.${j}`);
      if (!route) return;
      const dest = r.route?.[0]?.destination;
      const decorator = { operation: dest ? `${fqdn(dest.host, ns)}:${dest.port?.number ?? port}/*` : `${domain}:${port}/*` };
      out.push({ ...route, decorator });
    });
  });
  return out;
}

/**
 * Virtual hosts for servers sharing one route configuration (every HTTP server of a port, or one HTTPS server).
 * A domain already claimed by an earlier server keeps its routes; the later server's claim is reported.
 */
export function gatewayVirtualHosts(servers: BoundServer[], port: number, ctx: GatewayRouteContext): Json[] {
  const byDomain = new Map<string, { routes: Json[]; owner: BoundServer; redirect: boolean }>();
  for (const s of servers) {
    const claimed = new Set<string>();
    const claim = (domain: string) => {
      const have = byDomain.get(domain);
      if (have && have.owner !== s) {
        if (!claimed.has(domain)) ctx.problems.push({ gateway: s.gatewayKey, server: serverLabel(s), port, message: `host ${domain} on port ${port} is already served by ${have.owner.gatewayKey} ${serverLabel(have.owner)}; its routes come from there` });
        claimed.add(domain);
        return undefined;
      }
      const entry = have ?? { routes: [], owner: s, redirect: s.server.tls?.httpsRedirect === true };
      byDomain.set(domain, entry);
      return entry;
    };
    if (s.server.tls?.httpsRedirect) {
      // Every request to these hosts is redirected, whatever the routes say (Envoy's require_tls: ALL).
      for (const h of s.server.hosts ?? []) claim(h.includes("/") ? h.slice(h.indexOf("/") + 1).toLowerCase() : h.toLowerCase());
      continue;
    }
    for (const { vs, domains } of boundVirtualServices(ctx.vss, s, ctx.proxy.namespace)) {
      for (const d of domains) {
        const entry = claim(d);
        if (entry && !entry.redirect) entry.routes.push(...routesOf(vs, s, d, port, ctx));
      }
    }
  }
  const vhosts: Json[] = [];
  for (const [domain, { routes, redirect }] of [...byDomain].sort(([a], [b]) => a.localeCompare(b))) {
    const list = redirect ? [{ name: "https-redirect", match: { prefix: "/" }, redirect: { https_redirect: true, response_code: "MOVED_PERMANENTLY" } }] : routes;
    if (list.length) vhosts.push({ name: `${domain}:${port}`, domains: domainsOf(domain, port), routes: list });
  }
  // Istio's blackhole host: nothing bound answers 404 for any host.
  if (!vhosts.some((v) => (v.domains as string[]).includes("*"))) vhosts.push({ name: `blackhole:${port}`, domains: ["*"], routes: [{ name: "no-route", match: { prefix: "/" }, direct_response: { status: 404 } }] });
  return vhosts;
}
