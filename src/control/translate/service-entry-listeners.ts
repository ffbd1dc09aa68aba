// Transparent mode's way to ServiceEntry hosts with resolution NONE. Istio gives them no virtual IP: the application
// resolves the host itself and dials its real address, so the sidecar recognises the traffic on the outbound capture
// listener by destination port and, for TLS, by SNI (HTTP: by Host) and sends it to the entry's ORIGINAL_DST cluster;
// that is what lets REGISTRY_ONLY still reach the hosts a ServiceEntry lists, and names them in telemetry.
import type { ServicePort } from "../registry/registry.js";
import { clusterName, isHttp, type Service } from "./services.js";
import { BLACKHOLE, PASSTHROUGH } from "./transparent.js";

type Json = Record<string, unknown>;

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };

function tcpProxy(cluster: string): Json[] {
  return [{ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP, stat_prefix: cluster, cluster } }];
}

function isTls(p: ServicePort): boolean {
  return ["TLS", "HTTPS"].includes((p.protocol ?? "").toUpperCase());
}

/**
 * Filter chains for the outbound capture listener: per port, TLS hosts by SNI, HTTP hosts by Host (other hosts on
 * that port follow the outbound traffic policy, as Istio's allow_any / block_all virtual hosts), TCP by port alone
 * (the first entry on a port wins: plain TCP carries no name to tell entries apart).
 */
export function noneResolutionChains(entries: Array<{ service: Service; port: ServicePort }>, mode: "ALLOW_ANY" | "REGISTRY_ONLY"): Json[] {
  const chains: Json[] = [];
  const http = new Map<number, Json[]>();
  const tcpPorts = new Set<number>();
  for (const { service, port } of entries) {
    const cluster = clusterName("outbound", port.port, "", service.hostname);
    if (isTls(port)) {
      chains.push({ name: cluster, filter_chain_match: { destination_port: port.port, server_names: [service.hostname] }, filters: tcpProxy(cluster) });
    } else if (isHttp(port)) {
      const domains = [service.hostname, `${service.hostname}:${port.port}`];
      const hosts = http.get(port.port) ?? [];
      hosts.push({ name: `${service.hostname}:${port.port}`, domains, routes: [{ match: { prefix: "/" }, route: { cluster, timeout: "0s" } }] });
      http.set(port.port, hosts);
    } else if (!tcpPorts.has(port.port)) {
      tcpPorts.add(port.port);
      chains.push({ name: cluster, filter_chain_match: { destination_port: port.port }, filters: tcpProxy(cluster) });
    }
  }
  for (const [port, hosts] of [...http].sort((a, b) => a[0] - b[0])) {
    const fallback = mode === "REGISTRY_ONLY"
      ? { name: "block_all", domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 502 }, name: BLACKHOLE }] }
      : { name: "allow_any", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: PASSTHROUGH, timeout: "0s" } }] };
    chains.push({
      name: `0.0.0.0_${port}`,
      filter_chain_match: { destination_port: port },
      filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: `outbound_0.0.0.0_${port}`, route_config: { name: String(port), virtual_hosts: [...hosts, fallback] }, http_filters: [ROUTER] } }],
    });
  }
  return chains;
}
