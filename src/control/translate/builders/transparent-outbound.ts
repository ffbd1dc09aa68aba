// Transparent-mode outbound (LDS and RDS): the virtual outbound listener on 15001 that hands connections over, and
// a listener per service VIP and port (not bound) with its route configuration or TCP/TLS chains. These are most of
// a sidecar's resources at scale, so each is built once per push for every proxy that would build it the same
// (routes: same namespace and labels; HTTP listeners: same connection-manager settings) and kept in the push cache,
// recorded with the hosts it read so a change to any of them rebuilds it.
import type { IstioResource } from "../../../api/resource.js";
import { l4Destinations, outboundL4Listener } from "../l4-routes.js";
import { noneResolutionChains } from "../service-entry-listeners.js";
import { fqdn, isHttp, type Service } from "../services.js";
import type { ServicePort } from "../../registry/registry.js";
import { egressAllows, outboundTrafficMode } from "../sidecar-scope.js";
import { passthroughClusters, virtualOutbound } from "../transparent.js";
import { routesFor, type VirtualServiceSpec } from "../virtual-services.js";
import { CORS, FAULT, httpListener, type Json, ROUTER, socket, withTcpAccessLog } from "./envoy-shapes.js";
import type { OutboundScope } from "./outbound-scope.js";
import type { ProxyContext } from "./proxy-context.js";

export function buildTransparentOutbound(ctx: ProxyContext, scope: OutboundScope, out: { clusters: Json[]; listeners: Json[]; routes: Json[] }): void {
  const { proxy, index } = ctx;
  const { sidecar } = scope;
  const mode = outboundTrafficMode(sidecar, ctx.input.outboundTrafficPolicy);
  const unaddressed = scope.hosts.map((h) => index.services.get(h)).filter((s): s is Service => s?.entry?.resolution === "NONE")
    .flatMap((service) => service.ports.filter((port) => egressAllows(sidecar, proxy.namespace, service, port.port)).map((port) => ({ service, port })));
  out.clusters.push(...passthroughClusters());
  out.listeners.push(virtualOutbound(mode, noneResolutionChains(unaddressed, mode)));
  for (const hostname of scope.hosts) {
    const service = index.services.get(hostname);
    const vip = index.vips.get(hostname);
    if (!service || !vip) continue;
    for (const port of service.ports) {
      if (!egressAllows(sidecar, proxy.namespace, service, port.port)) continue;
      if (!isHttp(port)) {
        out.listeners.push(index.cache.get(hostname, `l4|${port.port}|${ctx.keys.scope}|${ctx.keys.observe}`, () => l4Listener(ctx, service, port, vip)));
        continue;
      }
      const routeName = `${port.port}|${hostname}|${vip}`;
      out.routes.push(index.cache.get(hostname, `rds|${port.port}|${ctx.keys.scope}`, () => ({
        value: { name: routeName, virtual_hosts: [{ name: `${hostname}:${port.port}`, domains: ["*"], routes: routesFor(index.vsCandidates(hostname), { service, port: port.port, proxy, services: index.services, hashPolicies: ctx.hashFor }) }] },
        reads: routeReads(index.vsCandidates(hostname), hostname),
      })));
      out.listeners.push(index.cache.get(hostname, `lds|${port.port}|${ctx.keys.observe}`, () => ({
        value: { ...httpListener(`${vip}_${port.port}`, vip, port.port, routeName, `outbound_${vip}_${port.port}`, [CORS, FAULT, ROUTER], ctx.observe), bind_to_port: false },
      })));
    }
  }
}

/** A TCP or TLS service port's listener, complete with its access logger, since the cached object is shared. */
function l4Listener(ctx: ProxyContext, service: Service, port: ServicePort, vip: string): { value: Json; reads: string[] } {
  const vss = ctx.index.vsCandidates(service.hostname);
  const listener = { name: `${vip}_${port.port}`, traffic_direction: "OUTBOUND", address: socket(vip, port.port), bind_to_port: false, ...outboundL4Listener(vss, { service, port, proxy: ctx.proxy, services: ctx.index.services }) };
  if (ctx.accessLog) withTcpAccessLog(listener, ctx.accessLog);
  return { value: listener, reads: routeReads(vss, service.hostname) };
}

/** The hosts the routes of `hostname` may read: the destinations and mirrors of every VirtualService that may route it. */
function routeReads(vss: Array<IstioResource<VirtualServiceSpec>>, hostname: string): string[] {
  const reads = new Set<string>();
  for (const vs of vss) {
    const ns = vs.metadata.namespace ?? "default";
    for (const h of vs.spec.http ?? []) for (const d of [...(h.route ?? []).map((x) => x.destination), ...(h.mirror ? [h.mirror] : [])]) reads.add(fqdn(d.host, ns));
    for (const host of l4Destinations(vs)) reads.add(fqdn(host, ns));
  }
  reads.delete(hostname);
  return [...reads];
}
