// What a sidecar in transparent mode (Istio's REDIRECT interception) gets beyond explicit mode: the virtual outbound
// listener on 15001 that hands each captured connection to the listener of its original destination (a service
// VIP and port) or passes it through, and the virtual inbound listener on 15006 with one filter chain per port.
type Json = Record<string, unknown>;

export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
export const PASSTHROUGH = "PassthroughCluster";
export const INBOUND_PASSTHROUGH = "InboundPassthroughCluster";
export const BLACKHOLE = "BlackHoleCluster";
const TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

function originalDstCluster(name: string): Json {
  return { name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: "10s" };
}

function tcpProxy(cluster: string): Json {
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP, stat_prefix: cluster, cluster } };
}

/**
 * Where captured connections go when no service listener claims them: out to their original destination (Istio's
 * ALLOW_ANY outbound policy), or nowhere (REGISTRY_ONLY: a STATIC cluster without hosts, as Istio's BlackHoleCluster).
 */
export function passthroughClusters(): Json[] {
  return [originalDstCluster(PASSTHROUGH), originalDstCluster(INBOUND_PASSTHROUGH), { name: BLACKHOLE, type: "STATIC", connect_timeout: "10s" }];
}

/** The outbound capture listener: `chains` (for destinations without a VIP listener) first, then the policy's default. */
export function virtualOutbound(mode: "ALLOW_ANY" | "REGISTRY_ONLY" = "ALLOW_ANY", chains: Json[] = []): Json {
  const target = mode === "REGISTRY_ONLY" ? BLACKHOLE : PASSTHROUGH;
  return {
    name: "virtualOutbound",
    traffic_direction: "OUTBOUND",
    address: { socket_address: { address: "0.0.0.0", port_value: OUTBOUND_CAPTURE_PORT } },
    use_original_dst: true,
    filter_chains: [...chains, { name: target, filters: [tcpProxy(target)] }],
  };
}

/**
 * The inbound chains of each service port, matched on the original destination port, then the passthrough for other
 * ports. The passthrough comes as chains built under the workload's PeerAuthentication mode (not as a default
 * chain): a plaintext connection that a STRICT port refused must not slip through to the app by the passthrough.
 */
export function virtualInbound(chainsByPort: Array<{ port: number; chains: Json[] }>, passthrough: (filters: Json[]) => Json[]): Json {
  const chains = chainsByPort.flatMap(({ port, chains: list }) => list.map((c) => ({ ...c, filter_chain_match: { ...((c.filter_chain_match as Json | undefined) ?? {}), destination_port: port } })));
  return {
    name: "virtualInbound",
    traffic_direction: "INBOUND",
    address: { socket_address: { address: "0.0.0.0", port_value: INBOUND_CAPTURE_PORT } },
    filter_chains: [...chains, ...passthrough([tcpProxy(INBOUND_PASSTHROUGH)]).map((c) => ({ ...c, name: INBOUND_PASSTHROUGH }))],
  };
}
