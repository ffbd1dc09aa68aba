// The destination service a request's route chose, known before any filter runs (Envoy caches the route and its
// cluster when the stream starts), so a request a filter or the router fails locally (a fault abort, no healthy
// upstream, no such cluster) still carries that service in Istio's metric labels, as Istio's source reporter does.
import type { StreamContext } from "../http/stream-context.js";
import type { IstioService } from "../upstream/cluster.js";

/** Finds a cluster by name (the router's view of CDS); only its Istio service metadata is read. */
export type ClusterServiceLookup = (name: string) => { readonly istioService?: IstioService } | undefined;

/**
 * Sets the cluster (and its Istio service) the route points at. A weighted route names one service through all its
 * subsets in practice, so the heaviest choice stands for it; the router overwrites both with the cluster it really
 * picks once the request gets that far.
 */
export function attributeRoute(ctx: StreamContext, lookup: ClusterServiceLookup): void {
  const action = ctx.route?.action;
  if (action?.kind !== "forward") return;
  let name: string | undefined;
  if (action.clusterHeader) name = ctx.view.header(action.clusterHeader);
  else name = action.clusters.reduce<typeof action.clusters[number] | undefined>((a, c) => (!a || c.weight > a.weight ? c : a), undefined)?.name;
  if (!name) return;
  ctx.upstreamCluster = name;
  const service = lookup(name)?.istioService;
  if (service) ctx.upstreamService = service;
}

/** An IPv4 or IPv6 literal (a request's authority in explicit mode is the local upstream port's address). */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/**
 * Istio's service labels when no cluster names the service: the request's host without its port; its name and
 * namespace only when the host is a service name (NAME.NAMESPACE...), never the octets of an address.
 */
export function serviceOfAuthority(authority: string): { host: string; name: string; namespace: string } {
  const host = authority.startsWith("[") ? authority.slice(0, authority.indexOf("]") + 1) : authority.replace(/:\d+$/, "");
  if (!host || isIpLiteral(host.replace(/^\[|\]$/g, ""))) return { host: host || "unknown", name: "unknown", namespace: "unknown" };
  const [name, namespace] = host.split(".");
  return { host, name: name || "unknown", namespace: namespace || "unknown" };
}
