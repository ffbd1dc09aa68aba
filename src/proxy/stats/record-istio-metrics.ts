// Fills Istio's metric labels for one finished request or one TCP connection, from the reporting side's point of view.
import type { ConnectionInfo, StreamContext } from "../http/stream-context.js";
import type { IstioService } from "../upstream/cluster.js";
import { serviceOfAuthority } from "./route-attribution.js";
import { type IstioMetrics, type LabelValues, type PeerInfo, peerFromWorkloadString, type TcpLabelValues, UNKNOWN_PEER } from "./istio-metrics.js";

export interface IstioReporting {
  metrics: IstioMetrics;
  self: PeerInfo;
  service?: string;
}

/** outbound|9080|v1|reviews.default.svc.cluster.local -> the service's FQDN. */
function serviceOfCluster(cluster: string | undefined): string | undefined {
  const parts = cluster?.split("|");
  return parts && parts.length === 4 && parts[3] ? parts[3] : undefined;
}

interface Hop {
  outbound: boolean;
  conn: ConnectionInfo;
  /** The caller's workload as the metadata exchange told it (inbound). */
  sourcePeer?: PeerInfo;
  /** istio.workload of the upstream host (outbound). */
  upstreamWorkload?: string;
  upstreamCluster?: string;
  /** The service as the cluster's Istio metadata names it (a ServiceEntry host is its own name). */
  upstreamService?: IstioService;
  /** The service when the cluster does not name one (the request's authority). */
  fallbackService: string;
  protocol: string;
  flags: string[];
}

function hopLabels(istio: IstioReporting, hop: Hop): TcpLabelValues {
  const { outbound, conn } = hop;
  const peer = hop.sourcePeer ?? UNKNOWN_PEER;
  // The mTLS peer's certificate is the authority on who called; the exchanged metadata fills in the rest.
  const source = outbound ? istio.self : conn.peerPrincipal ? { ...peer, principal: conn.peerPrincipal } : peer;
  const destination = outbound ? peerFromWorkloadString(hop.upstreamWorkload, istio.self.cluster) ?? UNKNOWN_PEER : istio.self;
  const named = outbound ? hop.upstreamService : undefined;
  const fromCluster = outbound ? serviceOfCluster(hop.upstreamCluster) : istio.service ?? "unknown";
  const service = named?.host ?? fromCluster ?? serviceOfAuthority(hop.fallbackService).host;
  const [serviceName, serviceNs] = named ? [named.name, named.namespace] : fromCluster ? fromCluster.split(".") : [serviceOfAuthority(hop.fallbackService).name, serviceOfAuthority(hop.fallbackService).namespace];
  return {
    reporter: outbound ? "source" : "destination",
    source_workload: source.workload, source_workload_namespace: source.namespace, source_principal: source.principal,
    source_app: source.app, source_version: source.version, source_cluster: source.cluster,
    destination_workload: destination.workload, destination_workload_namespace: destination.namespace, destination_principal: destination.principal,
    destination_app: destination.app, destination_version: destination.version,
    destination_service: service, destination_service_name: serviceName || "unknown", destination_service_namespace: serviceNs || "unknown",
    destination_cluster: destination.cluster,
    request_protocol: hop.protocol,
    response_flags: hop.flags.length ? hop.flags.join(",") : "-",
    // Only the destination knows how the connection was secured; the source reports unknown, as Istio does.
    connection_security_policy: outbound ? "unknown" : conn.tls && conn.peerPrincipal ? "mutual_tls" : "none",
  };
}

export function recordIstioMetrics(istio: IstioReporting, direction: "INBOUND" | "OUTBOUND", ctx: StreamContext): void {
  const grpcStatus = ctx.grpc ? String(ctx.res.getHeader("grpc-status") ?? (ctx.req as { trailers?: Record<string, string> }).trailers?.["grpc-status"] ?? "") : "";
  const labels: LabelValues = {
    ...hopLabels(istio, {
      outbound: direction === "OUTBOUND", conn: ctx.conn, sourcePeer: ctx.sourcePeer, upstreamWorkload: ctx.upstreamWorkload,
      upstreamCluster: ctx.upstreamCluster, upstreamService: ctx.upstreamService, fallbackService: ctx.view.authority, protocol: ctx.grpc ? "grpc" : "http", flags: ctx.flags,
    }),
    response_code: String(ctx.responseCode),
    grpc_response_status: grpcStatus,
  };
  istio.metrics.record(labels, Date.now() - ctx.startTime, ctx.bytesReceived, ctx.bytesSent);
}

/** Counts a TCP connection opened (Istio's istio_tcp_* metrics); the returned function counts it closed. */
export function openIstioTcpConnection(istio: IstioReporting, hop: Omit<Hop, "protocol" | "fallbackService">, sent: () => number, received: () => number): () => void {
  return istio.metrics.openTcpConnection(hopLabels(istio, { ...hop, protocol: "tcp", fallbackService: "unknown" }), sent, received);
}
