// A gateway proxy's listeners from Istio's Gateways: one listener per server port, bound where the gateway publishes
// that port. HTTP servers share one route configuration per port; TLS ports hold a filter chain per server, chosen
// by SNI: terminated (SIMPLE, MUTUAL, ISTIO_MUTUAL) into HTTP routes or a tcp route, or passed through
// (PASSTHROUGH) by the bound VirtualServices' tls routes; TCP ports take the first bound tcp route. Pure, like the
// rest of translation; what cannot be served is returned as problems, and the rest is served regardless.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { type BoundServer, type GatewayProblem, type PortServers, serverLabel, serversByPort } from "./gateway-servers.js";
import { boundVirtualServices, namesGateway, parseServerHost } from "./gateway-hosts.js";
import { gatewayVirtualHosts, vsDestinations } from "./gateway-routes.js";
import { type CredentialLookup, serverTransport } from "./gateway-tls.js";
import { destinationClusterName, type L4Route, type VirtualServiceSpec } from "./virtual-services.js";
import type { Service } from "./services.js";
import { TLS_INSPECTOR } from "./l4-routes.js";

type Json = Record<string, unknown>;

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

export interface GatewayInput {
  resources: IstioResource[];
  proxy: Workload;
  services: Map<string, Service>;
  vss: Array<IstioResource<VirtualServiceSpec>>;
  hashPolicies(hostname: string, subset: string | undefined, port: number): Json[];
  credentials: CredentialLookup;
  /** The HTTP filters every connection manager runs (authn, authz, ..., router), and tracing/access-log settings. */
  httpFilters: Json[];
  observe: Json;
}

export interface GatewayOutput {
  listeners: Json[];
  routes: Json[];
  secrets: Json[];
  /** Hosts the bound VirtualServices send to: the gateway needs their clusters. */
  destinations: Set<string>;
  problems: GatewayProblem[];
}

function hcm(statPrefix: string, routeName: string, input: GatewayInput): Json {
  return { name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: statPrefix, rds: { route_config_name: routeName, config_source: { ads: {} } }, http_filters: input.httpFilters, ...input.observe } };
}

function tcpProxy(route: L4Route, vs: IstioResource<VirtualServiceSpec>, input: GatewayInput, port: number): Json | undefined {
  const ns = vs.metadata.namespace ?? "default";
  const dests = route.route ?? [];
  if (!dests.length) return undefined;
  const clusters = dests.map((d) => ({ name: destinationClusterName(d.destination, ns, input.services, port), weight: d.weight ?? 0 })).filter((c, i) => dests.length === 1 || c.weight > 0 || i === 0);
  const target = clusters.length === 1 ? { cluster: clusters[0].name } : { weighted_clusters: { clusters } };
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP, stat_prefix: clusters.length === 1 ? clusters[0].name : `${vs.metadata.name}.${ns}`, ...target } };
}

/** The first tcp route a bound VirtualService offers this server (its matches naming this Gateway and port). */
function tcpRouteFor(s: BoundServer, port: number, input: GatewayInput): Json | undefined {
  for (const { vs } of boundVirtualServices(input.vss, s, input.proxy.namespace)) {
    const ns = vs.metadata.namespace ?? "default";
    for (const route of vs.spec.tcp ?? []) {
      const applies = !route.match?.length || route.match.some((m) => (!m.gateways?.length || namesGateway(m.gateways, s.gatewayKey, ns)) && (!m.port || m.port === port));
      if (applies) return tcpProxy(route, vs, input, port);
    }
  }
  return undefined;
}

/** The SNI names of a server's hosts; none when one of them is "*" (any name). */
function serverNames(s: BoundServer): string[] {
  const hosts = (s.server.hosts ?? []).map((h) => parseServerHost(h, s.gateway.metadata.namespace ?? "default").host);
  return hosts.includes("*") ? [] : [...new Set(hosts)].sort();
}

function httpListener(group: PortServers, input: GatewayInput, out: GatewayOutput): void {
  const routeName = `http.${group.port}`;
  out.routes.push({ name: routeName, virtual_hosts: gatewayVirtualHosts(group.servers, group.port, { ...input, problems: out.problems }) });
  out.listeners.push({ name: `0.0.0.0_${group.port}`, traffic_direction: "OUTBOUND", address: socket(input.proxy.address, group.bindPort), filter_chains: [{ filters: [hcm(`outbound_0.0.0.0_${group.port}`, routeName, input)] }] });
}

function socket(address: string, port: number): Json {
  return { socket_address: { address, port_value: port } };
}

/** The chains of one TLS server: one terminated chain, or one passthrough chain per bound tls route match. */
function tlsServerChains(s: BoundServer, port: number, input: GatewayInput, out: GatewayOutput): Json[] {
  const report = (message: string) => out.problems.push({ gateway: s.gatewayKey, server: serverLabel(s), port, message });
  const tls = s.server.tls!;
  // Mesh clients of an ISTIO_MUTUAL server (sidecars sending to an egress gateway) present the mesh's SNI
  // (outbound_.PORT_._.HOST), not the server's hosts: the chain does not match on SNI.
  const names = tls.mode === "ISTIO_MUTUAL" ? [] : serverNames(s);
  if (tls.mode === "PASSTHROUGH") {
    const chains: Json[] = [];
    for (const { vs } of boundVirtualServices(input.vss, s, input.proxy.namespace)) {
      const ns = vs.metadata.namespace ?? "default";
      for (const route of vs.spec.tls ?? []) for (const m of route.match ?? []) {
        if ((m.gateways?.length && !namesGateway(m.gateways, s.gatewayKey, ns)) || (m.port && m.port !== port)) continue;
        const sni = (m.sniHosts ?? []).map((h) => h.toLowerCase()).filter((h) => !names.length || names.some((n) => n === h || (n.startsWith("*.") && h.endsWith(n.slice(1)))));
        const filter = tcpProxy(route, vs, input, port);
        if (sni.length && filter) chains.push({ name: `${s.gatewayKey} ${serverLabel(s)} ${sni.join(",")}`, filter_chain_match: { server_names: sni }, filters: [filter] });
      }
    }
    if (!chains.length) report("PASSTHROUGH: no VirtualService bound to this Gateway has a tls route whose sniHosts the server's hosts admit");
    return chains;
  }
  const http = (s.server.port.protocol ?? "").toUpperCase() === "HTTPS";
  const transport = serverTransport(tls, input.proxy.namespace, input.credentials, http ? ["h2", "http/1.1"] : []);
  if ("error" in transport) {
    report(`not served: ${transport.error}`);
    return [];
  }
  out.secrets.push(...transport.ok.secrets);
  const match = names.length ? { filter_chain_match: { server_names: names } } : {};
  const name = `${s.gatewayKey} ${serverLabel(s)}`;
  if (http) {
    const routeName = `https.${port}.${s.server.name ?? s.index}.${s.gateway.metadata.name}.${s.gateway.metadata.namespace ?? "default"}`;
    out.routes.push({ name: routeName, virtual_hosts: gatewayVirtualHosts([s], port, { ...input, problems: out.problems }) });
    return [{ name, ...match, transport_socket: transport.ok.transportSocket, filters: [hcm(`outbound_0.0.0.0_${port}`, routeName, input)] }];
  }
  const filter = tcpRouteFor(s, port, input);
  if (!filter) {
    report("TLS is terminated but no VirtualService bound to this Gateway has a tcp route for it");
    return [];
  }
  return [{ name, ...match, transport_socket: transport.ok.transportSocket, filters: [filter] }];
}

function tlsListener(group: PortServers, input: GatewayInput, out: GatewayOutput): void {
  const chains: Json[] = [];
  const owners = new Map<string, string>();
  for (const s of group.servers) {
    for (const chain of tlsServerChains(s, group.port, input, out)) {
      const key = JSON.stringify(chain.filter_chain_match ?? {});
      const owner = owners.get(key);
      if (owner) {
        out.problems.push({ gateway: s.gatewayKey, server: serverLabel(s), port: group.port, message: `the same hosts (${((chain.filter_chain_match as Json | undefined)?.server_names as string[] | undefined)?.join(", ") ?? "*"}) on port ${group.port} are already served by ${owner}; this server is not` });
        continue;
      }
      owners.set(key, String(chain.name));
      chains.push(chain);
    }
  }
  if (!chains.length) return;
  out.listeners.push({ name: `0.0.0.0_${group.port}`, traffic_direction: "OUTBOUND", address: socket(input.proxy.address, group.bindPort), listener_filters: [TLS_INSPECTOR], filter_chains: chains });
}

function tcpListener(group: PortServers, input: GatewayInput, out: GatewayOutput): void {
  const [first, ...rest] = group.servers;
  for (const s of rest) out.problems.push({ gateway: s.gatewayKey, server: serverLabel(s), port: group.port, message: `TCP port ${group.port} carries one route; ${first.gatewayKey} ${serverLabel(first)} already has it` });
  const filter = tcpRouteFor(first, group.port, input);
  if (!filter) {
    out.problems.push({ gateway: first.gatewayKey, server: serverLabel(first), port: group.port, message: "no VirtualService bound to this Gateway has a tcp route for it" });
    return;
  }
  out.listeners.push({ name: `0.0.0.0_${group.port}`, traffic_direction: "OUTBOUND", address: socket(input.proxy.address, group.bindPort), filter_chains: [{ filters: [filter] }] });
}

/** Everything a gateway proxy serves, from the Gateways that select it and the VirtualServices bound to them. */
export function gatewayConfig(input: GatewayInput): GatewayOutput {
  const out: GatewayOutput = { listeners: [], routes: [], secrets: [], destinations: new Set(), problems: [] };
  const groups = serversByPort(input.resources, input.proxy, out.problems);
  for (const group of groups) {
    for (const s of group.servers) for (const { vs } of boundVirtualServices(input.vss, s, input.proxy.namespace)) for (const h of vsDestinations(vs)) out.destinations.add(h);
    if (group.kind === "http") httpListener(group, input, out);
    else if (group.kind === "tls") tlsListener(group, input, out);
    else tcpListener(group, input, out);
  }
  // One secret may serve several servers: sent once.
  const seen = new Set<string>();
  out.secrets = out.secrets.filter((s) => !seen.has(String(s.name)) && seen.add(String(s.name)));
  return out;
}
