// Fills Istio's metric labels for one finished request, from the reporting side's point of view.
import type { StreamContext } from "../http/stream-context.js";
import { type IstioMetrics, type LabelValues, type PeerInfo, peerFromWorkloadString, UNKNOWN_PEER } from "./istio-metrics.js";

/** outbound|9080|v1|reviews.default.svc.cluster.local -> the service's FQDN. */
function serviceOfCluster(cluster: string | undefined): string | undefined {
  const parts = cluster?.split("|");
  return parts && parts.length === 4 && parts[3] ? parts[3] : undefined;
}

export function recordIstioMetrics(istio: { metrics: IstioMetrics; self: PeerInfo; service?: string }, direction: "INBOUND" | "OUTBOUND", ctx: StreamContext): void {
  const outbound = direction === "OUTBOUND";
  const peer = ctx.sourcePeer ?? UNKNOWN_PEER;
  // The mTLS peer's certificate is the authority on who called; the exchanged metadata fills in the rest.
  const source = outbound ? istio.self : ctx.conn.peerPrincipal ? { ...peer, principal: ctx.conn.peerPrincipal } : peer;
  const destination = outbound ? peerFromWorkloadString(ctx.upstreamWorkload, istio.self.cluster) ?? UNKNOWN_PEER : istio.self;
  const service = outbound ? serviceOfCluster(ctx.upstreamCluster) ?? ctx.view.authority : istio.service ?? "unknown";
  const [serviceName, serviceNs] = service.split(".");
  const grpcStatus = ctx.grpc ? String(ctx.res.getHeader("grpc-status") ?? (ctx.req as { trailers?: Record<string, string> }).trailers?.["grpc-status"] ?? "") : "";
  const labels: LabelValues = {
    reporter: outbound ? "source" : "destination",
    source_workload: source.workload, source_workload_namespace: source.namespace, source_principal: source.principal,
    source_app: source.app, source_version: source.version, source_cluster: source.cluster,
    destination_workload: destination.workload, destination_workload_namespace: destination.namespace, destination_principal: destination.principal,
    destination_app: destination.app, destination_version: destination.version,
    destination_service: service, destination_service_name: serviceName || "unknown", destination_service_namespace: serviceNs || "unknown",
    destination_cluster: destination.cluster,
    request_protocol: ctx.grpc ? "grpc" : "http",
    response_code: String(ctx.responseCode),
    grpc_response_status: grpcStatus,
    response_flags: ctx.flags.length ? ctx.flags.join(",") : "-",
    // Only the destination knows how the connection was secured; the source reports unknown, as Istio does.
    connection_security_policy: outbound ? "unknown" : ctx.conn.tls && ctx.conn.peerPrincipal ? "mutual_tls" : "none",
  };
  istio.metrics.record(labels, Date.now() - ctx.startTime, ctx.bytesReceived, ctx.bytesSent);
}
