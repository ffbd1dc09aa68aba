// VirtualService tcp and tls routes -> the filter chains of a sidecar's outbound listener for one TCP or TLS service
// port, as Istio builds them (pilot/pkg/networking/core/tls.go): what can be decided for the asking proxy (port,
// sourceLabels, sourceNamespace, gateways) is decided here; what only the connection tells (SNI, destination address)
// becomes filter_chain_match; every chain ends in tcp_proxy to one cluster or weighted_clusters. TLS is never
// terminated: the proxy reads the SNI from the ClientHello (tls_inspector) and passes the bytes through.
//
// Port matches need no destination_port in the chains: each listener serves one service port (a local port per
// upstream in explicit mode, a VIP and port in transparent mode), so Istio's static port check already picked them.
// destinationSubnets are matched against the connection's destination: the service VIP in transparent mode, the
// local listener address (127.0.0.1) in explicit mode, where the app never dials the service's own address.
import { isIP } from "node:net";
import type { IstioResource } from "../../api/resource.js";
import type { ServicePort, Workload } from "../registry/registry.js";
import { clusterName, type Service } from "./services.js";
import { destinationClusterName, type L4Match, type L4Route, matchAppliesTo, type VirtualServiceSpec, virtualServicesFor } from "./virtual-services.js";

type Json = Record<string, unknown>;

const TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
export const TLS_INSPECTOR = { name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" } };

export interface L4Context {
  /** The service whose port the listener serves. */
  service: Service;
  port: ServicePort;
  /** The proxy asking (for the static predicates). */
  proxy: Workload;
  services: Map<string, Service>;
}

/** Istio's IsTLS: ports whose listener routes by SNI (tls routes) instead of tcp routes. */
export function isTlsPort(p: ServicePort): boolean {
  return ["TLS", "HTTPS"].includes((p.protocol ?? "").toUpperCase());
}

/** "10.0.0.0/8" or "10.1.2.3" as an Envoy CidrRange; undefined when it is neither (the analyzer reports it). */
function cidrRange(subnet: string): Json | undefined {
  const [address, len, extra] = subnet.trim().split("/");
  const family = isIP(address);
  if (!family || extra !== undefined) return undefined;
  const max = family === 6 ? 128 : 32;
  const prefix = len === undefined ? max : /^\d+$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address_prefix: address, prefix_len: prefix };
}

/** Every subnet as a CidrRange, or undefined if one is malformed: such a match cannot be evaluated, so it matches nothing. */
function cidrRanges(subnets: string[]): Json[] | undefined {
  const out = subnets.map(cidrRange);
  return out.every((r) => r) ? (out as Json[]) : undefined;
}

function tcpProxy(statPrefix: string, target: { cluster: string } | { weighted_clusters: Json }): Json {
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP_PROXY, stat_prefix: statPrefix, ...target } };
}

/**
 * The tcp_proxy for a route's destinations (Istio's buildOutboundNetworkFilters): one destination takes everything
 * whatever its weight, its cluster name being the stat prefix; several share by weight (those of weight 0 left out),
 * with the VirtualService's name.namespace as the stat prefix.
 */
function routeFilter(route: L4Route, vs: IstioResource<VirtualServiceSpec>, ctx: L4Context): Json {
  const ns = vs.metadata.namespace ?? "default";
  const dests = route.route ?? [];
  const cluster = (i: number) => destinationClusterName(dests[i].destination, ns, ctx.services, ctx.port.port);
  if (dests.length === 0) return defaultFilter(ctx);
  const weighted = dests.map((d, i) => ({ name: cluster(i), weight: d.weight ?? 0 })).filter((c) => c.weight > 0);
  // Several destinations with no positive weight (Istio's validation refuses them): the first takes everything,
  // rather than an empty weighted_clusters that no proxy would accept.
  if (dests.length === 1 || weighted.length === 0) return tcpProxy(cluster(0), { cluster: cluster(0) });
  return tcpProxy(`${vs.metadata.name}.${ns}`, { weighted_clusters: { clusters: weighted } });
}

/** Istio's route when no tcp or tls route applies: the service's own port, unsubsetted. */
function defaultFilter(ctx: L4Context): Json {
  const port = ctx.service.ports.length === 1 ? ctx.service.ports[0].port : ctx.port.port;
  const cluster = clusterName("outbound", port, "", ctx.service.hostname);
  return tcpProxy(cluster, { cluster });
}

/**
 * tcp routes (buildSidecarOutboundTCPFilterChainOpts): in VirtualService and route order, a route without matches,
 * or with an applying match that names no destinationSubnets, is the catch-all and ends the list; applying matches
 * with destinationSubnets collect into one chain per route matched on those prefixes. Without a catch-all, the
 * service's default route comes last.
 */
function tcpChains(vss: Array<IstioResource<VirtualServiceSpec>>, ctx: L4Context): Json[] {
  const chains: Json[] = [];
  for (const vs of vss) {
    for (const route of vs.spec.tcp ?? []) {
      const matches = route.match?.length ? route.match : [undefined];
      const applying = matches.filter((m) => matchAppliesTo(m, ctx.proxy, ctx.port.port));
      if (applying.some((m) => !m?.destinationSubnets?.length)) {
        chains.push({ filters: [routeFilter(route, vs, ctx)] });
        return chains;
      }
      const ranges = applying.map((m) => cidrRanges(m!.destinationSubnets!)).filter((r): r is Json[] => r !== undefined).flat();
      if (ranges.length) chains.push({ filter_chain_match: { prefix_ranges: ranges }, filters: [routeFilter(route, vs, ctx)] });
    }
  }
  chains.push({ filters: [defaultFilter(ctx)] });
  return chains;
}

/**
 * tls routes (buildSidecarOutboundTLSFilterChainOpts): a chain per applying match, on its sniHosts and
 * destinationSubnets; a later match with the same SNI and subnets can never be reached and is dropped. When no
 * match applies, the service's default route takes every connection; when some do, a connection whose SNI none
 * names has no chain and is closed, as in Istio.
 */
function tlsChains(vss: Array<IstioResource<VirtualServiceSpec>>, ctx: L4Context): Json[] {
  const chains: Json[] = [];
  const handled = new Set<string>();
  for (const vs of vss) {
    for (const route of vs.spec.tls ?? []) {
      for (const m of route.match ?? []) {
        if (!matchAppliesTo(m, ctx.proxy, ctx.port.port)) continue;
        const key = `${(m.sniHosts ?? []).join(",")}|${(m.destinationSubnets ?? []).join(",")}`;
        if (handled.has(key)) continue;
        handled.add(key);
        const chain = tlsChain(m, route, vs, ctx);
        if (chain) chains.push(chain);
      }
    }
  }
  return chains.length ? chains : [{ filters: [defaultFilter(ctx)] }];
}

function tlsChain(m: L4Match, route: L4Route, vs: IstioResource<VirtualServiceSpec>, ctx: L4Context): Json | undefined {
  const ranges = m.destinationSubnets?.length ? cidrRanges(m.destinationSubnets) : [];
  if (!ranges) return undefined;
  const match: Json = {
    ...(m.sniHosts?.length ? { server_names: m.sniHosts.map((h) => h.toLowerCase()) } : {}),
    ...(ranges.length ? { prefix_ranges: ranges } : {}),
  };
  return { ...(Object.keys(match).length ? { filter_chain_match: match } : {}), filters: [routeFilter(route, vs, ctx)] };
}

/** Envoy refuses a listener with two chains of the same match; the first (Istio's earlier route) is the one kept. */
function dedupe(chains: Json[]): Json[] {
  const seen = new Set<string>();
  return chains.filter((c) => {
    const key = JSON.stringify(c.filter_chain_match ?? {});
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The filter chains (and listener filters) of an outbound listener for a TCP or TLS service port, from the
 * VirtualServices that route the service on the mesh gateway.
 */
export function outboundL4Listener(vss: Array<IstioResource<VirtualServiceSpec>>, ctx: L4Context): { filter_chains: Json[]; listener_filters?: Json[] } {
  const routing = virtualServicesFor(vss, ctx.service.hostname, ctx.proxy.namespace);
  const chains = dedupe(isTlsPort(ctx.port) ? tlsChains(routing, ctx) : tcpChains(routing, ctx));
  const sni = chains.some((c) => ((c.filter_chain_match as { server_names?: string[] } | undefined)?.server_names ?? []).length > 0);
  return { filter_chains: chains, ...(sni ? { listener_filters: [TLS_INSPECTOR] } : {}) };
}

/** The hosts a VirtualService's tcp and tls routes send to, so a proxy that may use them gets their clusters. */
export function l4Destinations(vs: IstioResource<VirtualServiceSpec>): string[] {
  return [...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])].flatMap((r) => (r.route ?? []).map((d) => d.destination.host));
}
