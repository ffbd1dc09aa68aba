// The mesh graph for a window, as Kiali draws it: nodes per app, versioned app, workload or service, service nodes
// between callers and the workloads behind a service, edges with request rate, error ratio, latency percentiles,
// mTLS share and TCP throughput. Built only from PromQL, so it answers the same from the embedded store or Prometheus.
import type { Labels } from "./promql-eval.js";
import type { QueryBackend } from "./query-backend.js";
import { isErrorCode } from "./health.js";

export type GraphType = "app" | "versionedApp" | "workload" | "service";

export interface GraphNode {
  id: string;
  nodeType: "app" | "workload" | "service" | "unknown";
  namespace: string;
  app?: string;
  version?: string;
  workload?: string;
  service?: string;
  isRoot: boolean;
  isUnknown: boolean;
  traffic: { inRps: number; outRps: number; inErrorRatio: number; protocol: string };
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  protocol: string;
  rps: number;
  errorRatio: number;
  responseTimeMs?: { p50: number; p95: number; p99: number };
  mtlsRatio: number;
  tcpBytesPerSec: number;
  responseCodes: Record<string, number>;
}

export interface MeshGraph {
  timestamp: number;
  window: string;
  graphType: GraphType;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const EDGE_LABELS = "source_workload_namespace,source_workload,source_app,source_version,destination_service_namespace,destination_service_name,destination_workload_namespace,destination_workload,destination_app,destination_version";

/**
 * Kiali's graph query shape: every caller -> service -> workload pair with traffic in the window. With `idle`, pairs
 * whose counters are still reported but did not move in the window too (Kiali's idle edges): their rate is 0.
 */
export function requestsQuery(reporter: string, window: string, namespaces: string[], idle = false): string {
  return `sum(rate(istio_requests_total{reporter="${reporter}"${namespaceMatcher(namespaces)}}[${window}])) by (${EDGE_LABELS},request_protocol,response_code,response_flags,connection_security_policy)${idle ? "" : " > 0"}`;
}

/** The namespace filter every query of the graph carries, so a namespace shows only its own traffic (or none). */
function namespaceMatcher(namespaces: string[]): string {
  return namespaces.length ? `,destination_service_namespace=~"${namespaces.map(escapeRe).join("|")}"` : "";
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&");
}

const known = (v: string | undefined) => (v && v !== "unknown" ? v : undefined);

export async function buildGraph(backend: QueryBackend, opts: { windowMs: number; window: string; graphType: GraphType; namespaces: string[]; now: number; idleEdges?: boolean }): Promise<MeshGraph> {
  const { graphType, now } = opts;
  // Callers with a sidecar report their own requests (reporter=source), which also sees failures that never reached
  // the destination; callers without one (ingress, tests, curl) are only seen by the destination.
  const ns = namespaceMatcher(opts.namespaces);
  const [fromSource, fromDestination, mtls, tcpSent, tcpReceived, ...latency] = await Promise.all([
    backend.instant(requestsQuery("source", opts.window, opts.namespaces, opts.idleEdges), now),
    backend.instant(requestsQuery("destination", opts.window, opts.namespaces, opts.idleEdges), now),
    backend.instant(`sum(rate(istio_requests_total{reporter="destination",connection_security_policy="mutual_tls"${ns}}[${opts.window}])) by (${EDGE_LABELS}) > 0`, now),
    // A TCP edge's throughput is both directions, as Kiali draws it.
    backend.instant(`sum(rate(istio_tcp_sent_bytes_total{reporter="source"${ns}}[${opts.window}])) by (${EDGE_LABELS}) > 0`, now),
    backend.instant(`sum(rate(istio_tcp_received_bytes_total{reporter="source"${ns}}[${opts.window}])) by (${EDGE_LABELS}) > 0`, now),
    ...[0.5, 0.95, 0.99].map((q) => backend.instant(`histogram_quantile(${q}, sum(rate(istio_request_duration_milliseconds_bucket{reporter="source"${ns}}[${opts.window}])) by (le,${EDGE_LABELS}))`, now)),
  ]);
  const requests = [...fromSource, ...fromDestination.filter((s) => !known(s.labels.source_workload))];
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge & { errors: number; mtlsRps: number }>();

  const nodeFor = (side: "source" | "destination", l: Labels): GraphNode => {
    const ns = l[`${side}_workload_namespace`] || l.destination_service_namespace || "unknown";
    const workload = known(l[`${side}_workload`]);
    const app = known(l[`${side}_app`]);
    const version = known(l[`${side}_version`]);
    let id: string;
    let nodeType: GraphNode["nodeType"];
    if (!workload) { id = "unknown"; nodeType = "unknown"; }
    else if (graphType === "workload" || !app) { id = `${ns}/workload/${workload}`; nodeType = "workload"; }
    else if (graphType === "versionedApp") { id = `${ns}/app/${app}/${version ?? "latest"}`; nodeType = "app"; }
    else { id = `${ns}/app/${app}`; nodeType = "app"; }
    let n = nodes.get(id);
    if (!n) {
      n = { id, nodeType, namespace: nodeType === "unknown" ? "unknown" : ns, isRoot: false, isUnknown: nodeType === "unknown", traffic: { inRps: 0, outRps: 0, inErrorRatio: 0, protocol: "" } };
      if (nodeType !== "unknown") Object.assign(n, { app, version: graphType === "app" ? undefined : version, workload: graphType === "workload" || !app ? workload : undefined });
      nodes.set(id, n);
    }
    return n;
  };
  const serviceNode = (l: Labels): GraphNode | undefined => {
    const name = known(l.destination_service_name);
    if (!name) return undefined;
    const ns = l.destination_service_namespace || "unknown";
    const id = `${ns}/service/${name}`;
    let n = nodes.get(id);
    if (!n) nodes.set(id, (n = { id, nodeType: "service", namespace: ns, service: name, isRoot: false, isUnknown: false, traffic: { inRps: 0, outRps: 0, inErrorRatio: 0, protocol: "" } }));
    return n;
  };
  const edge = (from: GraphNode, to: GraphNode, protocol: string) => {
    const id = `${from.id}->${to.id}`;
    let e = edges.get(id);
    if (!e) edges.set(id, (e = { id, source: from.id, target: to.id, protocol, rps: 0, errorRatio: 0, mtlsRatio: 0, tcpBytesPerSec: 0, responseCodes: {}, errors: 0, mtlsRps: 0 }));
    return e;
  };
  // The hops one series of traffic crosses: caller -> service (-> workload, unless the graph is of services).
  const hops = (l: Labels, protocol: string) => {
    const src = nodeFor("source", l);
    const svc = serviceNode(l);
    const dst = known(l.destination_workload) ? nodeFor("destination", l) : undefined;
    const out: Array<GraphEdge & { errors: number; mtlsRps: number }> = [];
    if (graphType === "service") { if (svc) out.push(edge(src, svc, protocol)); }
    else if (svc && dst) out.push(edge(src, svc, protocol), edge(svc, dst, protocol));
    else if (svc || dst) out.push(edge(src, (svc ?? dst)!, protocol));
    return out;
  };
  for (const s of requests) {
    const protocol = s.labels.request_protocol || "http";
    for (const e of hops(s.labels, protocol)) {
      e.rps += s.value;
      const code = s.labels.response_code || "0";
      e.responseCodes[code] = (e.responseCodes[code] ?? 0) + s.value;
      if (isErrorCode(code, protocol)) e.errors += s.value;
    }
  }
  for (const s of mtls) for (const e of hops(s.labels, "http")) e.mtlsRps += s.value;
  for (const s of [...tcpSent, ...tcpReceived]) for (const e of hops(s.labels, "tcp")) e.tcpBytesPerSec += s.value;
  const key = (l: Labels) => JSON.stringify(Object.entries(l).sort());
  const [p50, p95] = latency.slice(0, 2).map((v) => new Map(v.map((s) => [key(s.labels), s.value])));
  for (const s of latency[2]) {
    if (!Number.isFinite(s.value)) continue;
    const first = hops(s.labels, "http")[0];
    if (first) first.responseTimeMs = { p50: round(p50.get(key(s.labels))), p95: round(p95.get(key(s.labels))), p99: round(s.value) };
  }
  const incoming = new Set<string>();
  for (const e of edges.values()) {
    e.errorRatio = e.rps > 0 ? e.errors / e.rps : 0;
    e.mtlsRatio = e.rps > 0 ? Math.min(1, e.mtlsRps / e.rps) : 0;
    e.rps = round(e.rps);
    const from = nodes.get(e.source)!;
    const to = nodes.get(e.target)!;
    from.traffic.outRps += e.rps;
    to.traffic.inErrorRatio = (to.traffic.inErrorRatio * to.traffic.inRps + e.errors) / (to.traffic.inRps + e.rps || 1);
    to.traffic.inRps += e.rps;
    to.traffic.protocol = e.protocol;
    incoming.add(e.target);
  }
  for (const n of nodes.values()) n.isRoot = !incoming.has(n.id);
  return {
    timestamp: Math.floor(now / 1000), window: opts.window, graphType,
    nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
    edges: [...edges.values()].map(({ errors: _e, mtlsRps: _m, ...e }) => e).sort((a, b) => a.id.localeCompare(b.id)),
  };
}

function round(v: number | undefined): number {
  return v === undefined || !Number.isFinite(v) ? 0 : Math.round(v * 1000) / 1000;
}
