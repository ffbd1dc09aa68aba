// One upstream host of a cluster, with the state load balancing, outlier detection and health checks share.
export interface Endpoint {
  /** "address:port", the endpoint's identity across EDS updates. */
  key: string;
  address: string;
  port: number;
  weight: number;
  priority: number;
  locality: string;
  /** From EDS health_status: false for UNHEALTHY, DRAINING, TIMEOUT. */
  edsHealthy: boolean;
  /** From active health checking; true until a check says otherwise. */
  hcHealthy: boolean;
  /** Outlier detection: ejected until this time (ms since epoch); 0 when not ejected. */
  ejectedUntil: number;
  ejections: number;
  consecutive5xx: number;
  consecutiveGatewayFailures: number;
  activeRequests: number;
  /** Labels from endpoint metadata (filter_metadata.istio / envoy.lb), for subsets and telemetry. */
  metadata: Record<string, unknown>;
  hostname: string;
  /** Index of the cluster's transport_socket_matches entry this host uses; -1 = the cluster's transport_socket. */
  transport: number;
}

export function newEndpoint(address: string, port: number, fields: Partial<Endpoint> = {}): Endpoint {
  return {
    key: `${address}:${port}`, address, port, weight: 1, priority: 0, locality: "", edsHealthy: true, hcHealthy: true,
    ejectedUntil: 0, ejections: 0, consecutive5xx: 0, consecutiveGatewayFailures: 0, activeRequests: 0, metadata: {}, hostname: "", transport: -1,
    ...fields,
  };
}

export function usable(e: Endpoint, now: number): boolean {
  return e.edsHealthy && e.hcHealthy && e.ejectedUntil <= now;
}

/** The istio.workload string the control plane puts in endpoint metadata (protobufjs Struct form). */
export function workloadOf(host: Endpoint): string | undefined {
  const istio = host.metadata.istio as { fields?: Record<string, { stringValue?: string }> } | undefined;
  return istio?.fields?.workload?.stringValue;
}
