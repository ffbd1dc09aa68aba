// A small graph of one entity's neighbours (who calls it, what it calls) for its detail page, from the same graph
// API as the Traffic Graph; a click opens the full graph focused on it.
import { useEffect, useRef } from "react";
import cytoscape, { type Core } from "cytoscape";
import { api, type MeshGraph } from "../api";
import { href, usePoll } from "../router";
import { healthColor, neighbours, nodeLabel } from "../pages/graph-view";

export function MiniGraph({ kind, namespace, name }: { kind: "service" | "workload" | "app"; namespace: string; name: string }) {
  const graphType = kind === "workload" ? "workload" : "versionedApp";
  const { data, error } = usePoll(() => api.get<MeshGraph>(`/api/v1/telemetry/graph?graphType=${graphType}&window=10m`), [graphType], 30_000);
  const container = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);
  const ids = (data?.nodes ?? []).filter((n) => n.namespace === namespace && (kind === "service" ? n.service === name : kind === "workload" ? n.workload === name : n.app === name && n.nodeType !== "service")).map((n) => n.id);
  const g = data ? neighbours(data, ids, kind === "service" ? 1 : 2) : undefined;
  useEffect(() => {
    if (!container.current || !g) return;
    cy.current?.destroy();
    cy.current = cytoscape({
      container: container.current, userZoomingEnabled: false, userPanningEnabled: false, autoungrabify: true,
      elements: [
        ...g.nodes.map((n) => ({ data: { id: n.id, label: nodeLabel(n).replace("\n", " "), color: healthColor(n.traffic.inErrorRatio, n.traffic.inRps), self: ids.includes(n.id) ? 1 : 0, nodeType: n.nodeType } })),
        ...g.edges.map((e) => ({ data: { id: e.id, source: e.source, target: e.target, color: healthColor(e.errorRatio, e.rps || e.tcpBytesPerSec) } })),
      ],
      style: [
        { selector: "node", style: { label: "data(label)", "font-size": 10, "text-valign": "bottom", "background-color": "#fff", "border-width": 3, "border-color": "data(color)", width: 22, height: 22 } },
        { selector: "node[nodeType = 'service']", style: { shape: "triangle" } },
        { selector: "node[self = 1]", style: { "background-color": "#bee1f4", width: 28, height: 28 } },
        { selector: "edge", style: { width: 2, "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": "data(color)", "target-arrow-color": "data(color)" } },
      ],
      layout: { name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 60 } as cytoscape.LayoutOptions,
    });
    return () => { cy.current?.destroy(); cy.current = null; };
  }, [g && JSON.stringify(g)]);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (g && g.nodes.length === 0) return <p className="empty">No traffic to or from {name} in the last 10 minutes.</p>;
  return (
    <figure className="mini-graph" aria-label={`Neighbours of ${name}: ${g?.nodes.length ?? 0} nodes, ${g?.edges.length ?? 0} edges`}>
      <div ref={container} className="mini-graph-canvas" />
      <figcaption><a href={href(["graph"], { namespaces: namespace, type: graphType, focus: ids[0] })}>Open in the Traffic Graph</a></figcaption>
    </figure>
  );
}
