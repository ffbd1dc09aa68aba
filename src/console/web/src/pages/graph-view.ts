// The graph as the Display menu and the toolbar ask: idle workloads added, service nodes folded into the edges
// through them, one node's neighbourhood (focus), hidden elements removed. Pure functions of the graph data.
import type { GraphEdge, GraphNode, MeshGraph, Workload } from "../api";
import type { Selector } from "./graph-find";

const emptyTraffic = () => ({ inRps: 0, outRps: 0, inErrorRatio: 0, protocol: "" });

/** The node id a connected workload has in this graph type (the ids the server builds). */
export function workloadNodeId(graphType: string, w: Workload): GraphNode {
  const app = w.labels.app;
  const version = w.labels.version;
  const base = { namespace: w.namespace, isRoot: true, isUnknown: false, traffic: emptyTraffic() };
  if (graphType === "service" && w.service) return { ...base, id: `${w.namespace}/service/${w.service}`, nodeType: "service", service: w.service };
  if (graphType === "workload" || !app) return { ...base, id: `${w.namespace}/workload/${w.name}`, nodeType: "workload", workload: w.name };
  if (graphType === "versionedApp") return { ...base, id: `${w.namespace}/app/${app}/${version ?? "latest"}`, nodeType: "app", app, version };
  return { ...base, id: `${w.namespace}/app/${app}`, nodeType: "app", app };
}

/** Adds every connected workload that had no traffic in the window (Kiali's idle nodes). */
export function withIdle(g: MeshGraph, workloads: Workload[], namespaces: string[]): MeshGraph {
  const have = new Set(g.nodes.map((n) => n.id));
  const idle = workloads.filter((w) => !namespaces.length || namespaces.includes(w.namespace)).map((w) => workloadNodeId(g.graphType, w)).filter((n) => !have.has(n.id) && (have.add(n.id), true));
  return { ...g, nodes: [...g.nodes, ...idle] };
}

/** Folds service nodes away: caller -> service -> workload becomes caller -> workload, the service's traffic shared out. */
export function withoutServices(g: MeshGraph): MeshGraph {
  const services = new Set(g.nodes.filter((n) => n.nodeType === "service").map((n) => n.id));
  if (g.graphType === "service" || services.size === 0) return g;
  const edges: GraphEdge[] = g.edges.filter((e) => !services.has(e.source) && !services.has(e.target));
  const kept = new Set<string>();
  for (const id of services) {
    const into = g.edges.filter((e) => e.target === id);
    const out = g.edges.filter((e) => e.source === id);
    const outTotal = out.reduce((s, e) => s + e.rps, 0);
    // A service nothing answered behind (every request failed before a workload) stays, so its failures show.
    if (out.length === 0) { kept.add(id); edges.push(...into); continue; }
    for (const a of into) for (const b of out) {
      const share = outTotal > 0 ? b.rps / outTotal : 1 / out.length;
      edges.push({ ...b, id: `${a.source}->${b.target}`, source: a.source, responseTimeMs: a.responseTimeMs, rps: a.rps * share, errorRatio: a.errorRatio, tcpBytesPerSec: a.tcpBytesPerSec * share, mtlsRatio: Math.min(a.mtlsRatio, b.mtlsRatio) });
    }
  }
  const merged = new Map<string, GraphEdge>();
  for (const e of edges) {
    const m = merged.get(e.id);
    if (!m) merged.set(e.id, { ...e });
    else {
      const rps = m.rps + e.rps;
      merged.set(e.id, { ...m, rps, errorRatio: rps > 0 ? (m.errorRatio * m.rps + e.errorRatio * e.rps) / rps : 0, tcpBytesPerSec: m.tcpBytesPerSec + e.tcpBytesPerSec });
    }
  }
  return { ...g, nodes: g.nodes.filter((n) => !services.has(n.id) || kept.has(n.id)), edges: [...merged.values()] };
}

/** The focused node and everything within two hops (a service between counts as one). */
export function focused(g: MeshGraph, id: string): MeshGraph {
  return g.nodes.some((n) => n.id === id) ? neighbours(g, [id], 2) : g;
}

/** The given nodes and everything within `hops` edges of them, either direction. */
export function neighbours(g: MeshGraph, ids: string[], hops: number): MeshGraph {
  const keep = new Set(ids.filter((id) => g.nodes.some((n) => n.id === id)));
  for (let hop = 0; hop < hops; hop++) {
    const reached = new Set(keep);
    for (const e of g.edges) {
      if (reached.has(e.source) || reached.has(e.target)) { keep.add(e.source); keep.add(e.target); }
    }
  }
  return { ...g, nodes: g.nodes.filter((n) => keep.has(n.id)), edges: g.edges.filter((e) => keep.has(e.source) && keep.has(e.target)) };
}

/** Removes what the Hide expression selects (a hidden node takes its edges with it). */
export function hidden(g: MeshGraph, s: Selector | undefined): MeshGraph {
  if (!s) return g;
  if (s.on === "edge") return { ...g, edges: g.edges.filter((e) => !s.test(e)) };
  const gone = new Set(g.nodes.filter((n) => s.test(n)).map((n) => n.id));
  return { ...g, nodes: g.nodes.filter((n) => !gone.has(n.id)), edges: g.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)) };
}

export function nodeLabel(n: GraphNode): string {
  if (n.isUnknown) return "unknown";
  if (n.nodeType === "service") return n.service ?? n.id;
  if (n.nodeType === "workload") return n.workload ?? n.id;
  return n.version ? `${n.app}\n${n.version}` : n.app ?? n.id;
}

/** Kiali's health colours by the error ratio of what came in. */
export function healthColor(errorRatio: number, rps: number): string {
  if (rps <= 0) return "#8a8d90";
  if (errorRatio >= 0.2) return "#c9190b";
  if (errorRatio >= 0.001) return "#f0ab00";
  return "#3e8635";
}

export function healthName(errorRatio: number, rps: number): string {
  if (rps <= 0) return "idle";
  return errorRatio >= 0.2 ? "failure" : errorRatio >= 0.001 ? "degraded" : "healthy";
}
