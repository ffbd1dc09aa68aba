// DestinationRule -> cluster settings (load balancing, connection pool limits, outlier detection) and subsets.
import type { IstioResource } from "../../api/resource.js";
import { fqdn } from "./services.js";
import type { LocalityLbSetting } from "./locality-lb.js";

type Json = Record<string, unknown>;

export interface TrafficPolicy {
  loadBalancer?: { localityLbSetting?: LocalityLbSetting; simple?: string; consistentHash?: { httpHeaderName?: string; httpCookie?: { name: string; ttl?: string; path?: string }; useSourceIp?: boolean; httpQueryParameterName?: string } };
  connectionPool?: { tcp?: { maxConnections?: number; connectTimeout?: string }; http?: { http1MaxPendingRequests?: number; http2MaxRequests?: number; maxRequestsPerConnection?: number; maxRetries?: number; idleTimeout?: string } };
  outlierDetection?: { consecutive5xxErrors?: number; consecutiveGatewayErrors?: number; interval?: string; baseEjectionTime?: string; maxEjectionPercent?: number };
  tls?: { mode?: string };
  portLevelSettings?: Array<{ port?: { number?: number } } & Omit<TrafficPolicy, "portLevelSettings">>;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Array<{ name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicy }>;
  exportTo?: string[];
}

/** Go-style durations ("1m30s", "100ms") to proto3 JSON ("90s", "0.1s"). */
export function protoDuration(d: string | undefined): string | undefined {
  if (!d) return undefined;
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, us: 1e-6, ns: 1e-9 };
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|s|m|h)/g)) total += Number(m[1]) * units[m[2]];
  return `${Number(total.toFixed(9))}s`;
}

/** The DestinationRule in force for a host: the proxy's own namespace first, then the host's (Istio's lookup order). */
export function destinationRuleFor(drs: Array<IstioResource<DestinationRuleSpec>>, hostname: string, proxyNamespace: string): IstioResource<DestinationRuleSpec> | undefined {
  const matching = drs.filter((d) => fqdn(d.spec.host, d.metadata.namespace ?? "default") === hostname);
  return matching.find((d) => d.metadata.namespace === proxyNamespace) ?? matching[0];
}

/**
 * The policy for one port: a portLevelSettings entry for it replaces the load balancer, connection pool, outlier
 * detection and TLS wholesale (fields it leaves out fall back to defaults, not to the rule's: Istio's documented
 * rule), at the rule's level and at a subset's.
 */
function policyForPort(policy: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  const p = policy?.portLevelSettings?.find((s) => s.port?.number === port);
  if (!p) return policy;
  return { loadBalancer: p.loadBalancer, connectionPool: p.connectionPool, outlierDetection: p.outlierDetection, tls: p.tls };
}

/**
 * Istio's MergeSubsetTrafficPolicy for one port: the rule's policy for the port, then each of the subset's load
 * balancer, connection pool, outlier detection and TLS that is set replaces the rule's wholesale; a subset
 * portLevelSettings entry for the port replaces all four (unset ones fall back to defaults, not to the rule's).
 */
export function mergePolicy(rule: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  const base = policyForPort(rule, port);
  if (!subset) return base;
  const own = policyForPort(subset, port);
  if (!base) return own;
  const all = own !== subset;
  return {
    loadBalancer: all || own?.loadBalancer ? own?.loadBalancer : base.loadBalancer,
    connectionPool: all || own?.connectionPool ? own?.connectionPool : base.connectionPool,
    outlierDetection: all || own?.outlierDetection ? own?.outlierDetection : base.outlierDetection,
    tls: all || own?.tls ? own?.tls : base.tls,
  };
}

/** Cluster fields for a (merged) traffic policy. */
export function clusterPolicy(policy: TrafficPolicy | undefined): Json {
  const lb = policy?.loadBalancer;
  const pool = { tcp: { ...policy?.connectionPool?.tcp }, http: { ...policy?.connectionPool?.http } };
  const od = policy?.outlierDetection;
  const out: Json = {};
  if (lb?.consistentHash) out.lb_policy = "RING_HASH";
  else if (lb?.simple === "LEAST_REQUEST" || lb?.simple === "LEAST_CONN") out.lb_policy = "LEAST_REQUEST";
  else if (lb?.simple === "RANDOM") out.lb_policy = "RANDOM";
  else out.lb_policy = "ROUND_ROBIN";
  out.connect_timeout = protoDuration(pool.tcp.connectTimeout) ?? "10s";
  // Istio's defaults are effectively unlimited; the DestinationRule's limits become circuit breakers.
  const max = 4294967295;
  out.circuit_breakers = { thresholds: [{
    max_connections: pool.tcp.maxConnections ?? max,
    max_pending_requests: pool.http.http1MaxPendingRequests ?? max,
    max_requests: pool.http.http2MaxRequests ?? max,
    max_retries: pool.http.maxRetries ?? max,
  }] };
  if (pool.http.maxRequestsPerConnection) out.max_requests_per_connection = pool.http.maxRequestsPerConnection;
  if (od) {
    out.outlier_detection = {
      ...(od.consecutive5xxErrors !== undefined ? { consecutive_5xx: od.consecutive5xxErrors, enforcing_consecutive_5xx: od.consecutive5xxErrors > 0 ? 100 : 0 } : {}),
      ...(od.consecutiveGatewayErrors !== undefined ? { consecutive_gateway_failure: od.consecutiveGatewayErrors, enforcing_consecutive_gateway_failure: 100 } : {}),
      interval: protoDuration(od.interval) ?? "10s",
      base_ejection_time: protoDuration(od.baseEjectionTime) ?? "30s",
      max_ejection_percent: od.maxEjectionPercent ?? 10,
    };
  }
  return out;
}

/** Route hash policies for a consistentHash load balancer. */
export function hashPolicies(policy: TrafficPolicy | undefined): Json[] {
  const ch = policy?.loadBalancer?.consistentHash;
  if (!ch) return [];
  if (ch.httpHeaderName) return [{ header: { header_name: ch.httpHeaderName } }];
  if (ch.httpCookie) return [{ cookie: { name: ch.httpCookie.name, ...(ch.httpCookie.ttl ? { ttl: protoDuration(ch.httpCookie.ttl) } : {}), ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}) } }];
  if (ch.useSourceIp) return [{ connection_properties: { source_ip: true } }];
  if (ch.httpQueryParameterName) return [{ query_parameter: { name: ch.httpQueryParameterName } }];
  return [];
}
