// The inbound side (a CDS cluster and an LDS listener): the sidecar's listener peers dial, in front of the app, with
// the workload's PeerAuthentication mode, request authentication and authorization filters. Built per proxy: it is
// one listener, and every part of it depends on the workload.
import { buildRbacFilters } from "../../security/authz-translate.js";
import { buildJwtFilter, type RequestAuthenticationSpec } from "../../security/authn-translate.js";
import { inboundChains, peerAuthenticationMode } from "../mtls.js";
import { clusterName, fqdn, isHttp, isHttp2 } from "../services.js";
import { virtualInbound } from "../transparent.js";
import { H2, HCM, type Json, ROUTER, socket, TCP } from "./envoy-shapes.js";
import type { ProxyContext } from "./proxy-context.js";

export function buildInbound(ctx: ProxyContext, transparent: boolean, out: { clusters: Json[]; listeners: Json[] }): void {
  const { proxy, index, root, input } = ctx;
  if (!(proxy.service && proxy.inboundPort && proxy.appPort)) return;
  const port = proxy.servicePorts[0] ?? { port: proxy.appPort, protocol: "HTTP" };
  const inboundCluster = clusterName("inbound", port.port, "", "");
  out.clusters.push({ name: inboundCluster, type: "STATIC", connect_timeout: "10s", load_assignment: { cluster_name: inboundCluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket("127.0.0.1", proxy.appPort) } }] }] }, ...(isHttp2(port) ? { typed_extension_protocol_options: H2 } : {}) });
  const identity = { namespace: proxy.namespace, labels: proxy.labels };
  const rbac = buildRbacFilters(ctx.authzPolicies, identity, root, input.extAuthzProviders);
  const pas = index.of("PeerAuthentication");
  // Other ports of a transparent workload pass through under the workload-wide mode (port 0: no port-level mode)
  // and its authorization policies.
  const passthrough = (filters: Json[]) => inboundChains(peerAuthenticationMode(pas, proxy, 0, root), proxy.mtls, [...rbac.networkFilters, ...filters], true);
  const appPort = proxy.appPort;
  // Captured connections keep the port they were sent to: the pod's (a Service's targetPort), not the Service's.
  const listener = (chains: Json[]) => transparent ? virtualInbound([{ port: appPort, chains }], passthrough) : { name: "virtualInbound", traffic_direction: "INBOUND", address: socket(proxy.address, proxy.inboundPort), filter_chains: chains };
  if (isHttp(port)) {
    const jwt = buildJwtFilter(index.of<RequestAuthenticationSpec>("RequestAuthentication"), identity, input.jwks ?? (() => undefined), root);
    const filters = [...(jwt.httpFilter ? [jwt.httpFilter] : []), ...rbac.httpFilters, ROUTER];
    const hcm = [{ name: "envoy.filters.network.http_connection_manager", typed_config: {
      "@type": HCM, stat_prefix: `inbound_${proxy.address}_${port.port}`,
      route_config: { name: `inbound|${port.port}||`, virtual_hosts: [{ name: `inbound|http|${port.port}`, domains: ["*"], routes: [{ name: "default", match: { prefix: "/" }, route: { cluster: inboundCluster, timeout: "0s" }, decorator: { operation: `${fqdn(proxy.service, proxy.namespace)}:${port.port}/*` } }] }] },
      http_filters: filters,
      ...ctx.serverObserve,
    } }];
    out.listeners.push(listener(inboundChains(peerAuthenticationMode(pas, proxy, port.port, root), proxy.mtls, hcm)));
  } else {
    const filters = [...rbac.networkFilters, { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP, stat_prefix: inboundCluster, cluster: inboundCluster } }];
    out.listeners.push(listener(inboundChains(peerAuthenticationMode(pas, proxy, port.port, root), proxy.mtls, filters, true)));
  }
}
