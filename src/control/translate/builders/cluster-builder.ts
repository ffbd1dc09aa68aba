// Outbound clusters and their endpoints (CDS and EDS): one cluster per service port and DestinationRule subset,
// with the rule's policy, auto mTLS or originated TLS, ServiceEntry discovery, and locality-aware endpoints.
// Clusters depend on the proxy only through its namespace (which DestinationRule applies) and endpoints through its
// locality, so both are built once per push and shared through the push cache.
import type { Workload } from "../../registry/registry.js";
import { clusterPolicy, destinationRuleFor, mergePolicy, type TrafficPolicy } from "../destination-rules.js";
import { DEFAULT_LOCALITY_LB, effectiveLocalityLb, type LocalityLbSetting, localityEndpoints, localityWeighted } from "../locality-lb.js";
import { TLS_MODE_MATCH, upstreamTransport } from "../mtls.js";
import { type ClientTls, DEFAULT_DNS, originatedTls, serviceEntryDiscovery, serviceEntryMetadata } from "../service-entry-clusters.js";
import { clusterName, isHttp, isHttp2, type Service } from "../services.js";
import type { ServicePort } from "../../registry/registry.js";
import { egressAllows } from "../sidecar-scope.js";
import { H2, type Json, socket } from "./envoy-shapes.js";
import type { OutboundScope } from "./outbound-scope.js";
import type { ProxyContext } from "./proxy-context.js";

/** A cluster, and for EDS clusters what its endpoints depend on. */
interface BuiltCluster {
  cluster: Json;
  eds?: { labels?: Record<string, string>; locality?: LocalityLbSetting; outlier: boolean };
}

export function buildClusters(ctx: ProxyContext, scope: OutboundScope, out: { clusters: Json[]; endpoints: Json[] }): void {
  const { index, proxy } = ctx;
  for (const hostname of scope.hosts) {
    const service = index.services.get(hostname);
    if (!service) continue;
    for (const port of service.ports) {
      if (!egressAllows(scope.sidecar, proxy.namespace, service, port.port)) continue;
      const built = index.cache.get(hostname, `clusters|${port.port}|${proxy.namespace}`, () => ({ value: portClusters(ctx, service, port) }));
      for (const b of built) {
        out.clusters.push(b.cluster);
        if (b.eds) out.endpoints.push(assignment(ctx, service, port.port, String(b.cluster.name), b.eds));
      }
    }
  }
}

/** The clusters of one service port: the service's own and one per subset of its DestinationRule. */
function portClusters(ctx: ProxyContext, service: Service, port: ServicePort): BuiltCluster[] {
  const { hostname } = service;
  const dr = destinationRuleFor(ctx.index.drCandidates(hostname), hostname, ctx.proxy.namespace);
  const variants: Array<{ subset: string; labels?: Record<string, string>; merged?: TrafficPolicy }> = [
    { subset: "", merged: mergePolicy(dr?.spec.trafficPolicy, undefined, port.port) },
    ...(dr?.spec.subsets ?? []).map((s) => ({ subset: s.name, labels: s.labels, merged: mergePolicy(dr?.spec.trafficPolicy, s.trafficPolicy, port.port) })),
  ];
  return variants.map((v) => {
    const name = clusterName("outbound", port.port, v.subset, hostname);
    const endpoints = service.endpoints.filter((w) => !v.labels || Object.entries(v.labels).every(([k, x]) => w.labels[k] === x));
    const tls: ClientTls | undefined = v.merged?.tls;
    // Auto mTLS only toward endpoints in the mesh: a MESH_EXTERNAL host gets TLS only when a DestinationRule asks.
    const transport = tls?.mode === "SIMPLE" || tls?.mode === "MUTUAL" ? originatedTls(tls, hostname)
      : upstreamTransport(tls?.mode, service.entry?.external ? [] : endpoints, hostname, port.port, isHttp2(port) ? "h2" : isHttp(port) ? "http" : "tcp");
    const common = { ...clusterPolicy(v.merged), ...(isHttp2(port) ? { typed_extension_protocol_options: H2 } : {}), ...transport, ...serviceEntryMetadata(service) };
    const discovery = serviceEntryDiscovery(service, port, name, v.labels, ctx.input.dns ?? DEFAULT_DNS);
    if (discovery) return { cluster: { name, ...common, ...discovery } };
    const locality = effectiveLocalityLb(ctx.input.localityLbSetting ?? DEFAULT_LOCALITY_LB, v.merged?.loadBalancer?.localityLbSetting);
    const outlier = !!v.merged?.outlierDetection;
    const weighted = localityWeighted(locality, outlier) ? { common_lb_config: { locality_weighted_lb_config: {} } } : {};
    return { cluster: { name, type: "EDS", eds_cluster_config: { eds_config: { ads: {} }, service_name: name }, ...common, ...weighted }, eds: { labels: v.labels, locality, outlier } };
  });
}

/** A cluster's ClusterLoadAssignment, shared by the proxies in one locality (and, under failoverPriority, labels). */
function assignment(ctx: ProxyContext, service: Service, port: number, name: string, eds: NonNullable<BuiltCluster["eds"]>): Json {
  const { proxy } = ctx;
  const key = `eds|${name}\0${JSON.stringify(eds.labels ?? {})}\0${JSON.stringify(eds.locality ?? null)}\0${eds.outlier}\0${proxy.locality ?? ""}\0${eds.locality?.failoverPriority?.length ? JSON.stringify(proxy.labels) : ""}`;
  return ctx.index.cache.get(service.hostname, key, () => ({ value: { cluster_name: name, endpoints: endpointsFor(service, port, eds.labels, proxy, eds.locality, eds.outlier) } }));
}

/** The cluster's endpoints grouped by locality, with the locality setting applied relative to `proxy`. */
function endpointsFor(service: Service, port: number, labels: Record<string, string> | undefined, proxy: Workload, locality: LocalityLbSetting | undefined, outlierDetection: boolean): Json[] {
  const matching = service.endpoints.filter((w) => !labels || Object.entries(labels).every(([k, v]) => w.labels[k] === v));
  if (matching.length === 0) return [];
  return localityEndpoints(matching.map((w) => ({
    workload: w,
    endpoint: {
      endpoint: { address: socket(w.address, w.portTargets?.[port] ?? (w.inboundPort || port)) },
      health_status: w.ready ? "HEALTHY" : "UNHEALTHY",
      metadata: { filter_metadata: {
        istio: { workload: `${w.name};${w.namespace};${w.labels.app ?? ""};${w.labels.version ?? ""};` },
        ...(w.mtls ? { [TLS_MODE_MATCH]: { tlsMode: "istio" } } : {}),
      } },
    },
  })), proxy, locality, outlierDetection);
}
