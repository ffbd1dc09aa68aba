// The traffic graph: Cytoscape with a dagre layout (as Kiali draws it), nodes coloured by health, edges labelled with
// rate, response time or error ratio, a lock on mTLS edges, a side panel on click, find and hide. The view's
// settings live in the URL, so a link reproduces it.
import { useEffect, useRef, useState } from "react";
import cytoscape, { type Core } from "cytoscape";
import dagre from "cytoscape-dagre";
import { api, type GraphEdge, type GraphNode, type MeshGraph } from "../api";
import { usePoll, setParams, href } from "../router";
import { pct } from "../components/Health";

cytoscape.use(dagre);

const WINDOWS = ["1m", "5m", "10m", "30m", "1h"];
const REFRESH: Array<[string, string]> = [["0", "Off"], ["10000", "10 s"], ["30000", "30 s"], ["60000", "1 min"]];

function health(errorRatio: number, rps: number): string {
  if (rps <= 0) return "#8a8d90";
  if (errorRatio >= 0.2) return "#c9190b";
  if (errorRatio >= 0.001) return "#f0ab00";
  return "#3e8635";
}

function nodeLabel(n: GraphNode): string {
  if (n.isUnknown) return "unknown";
  if (n.nodeType === "service") return n.service ?? n.id;
  if (n.nodeType === "workload") return n.workload ?? n.id;
  return n.version ? `${n.app}\n${n.version}` : n.app ?? n.id;
}

function edgeLabel(e: GraphEdge, mode: string): string {
  const lock = e.mtlsRatio >= 0.99 ? "🔒 " : "";
  if (mode === "rps") return `${lock}${e.protocol === "tcp" ? `${Math.round(e.tcpBytesPerSec)} B/s` : `${e.rps.toFixed(2)} rps`}`;
  if (mode === "responseTime") return `${lock}${e.responseTimeMs ? `${e.responseTimeMs.p95.toFixed(1)} ms` : "–"}`;
  if (mode === "errorRatio") return `${lock}${pct(e.errorRatio)}`;
  return lock.trim();
}

const detailLink = (n: GraphNode) =>
  n.nodeType === "service" ? href(["services", n.namespace, n.service!]) : n.nodeType === "workload" ? href(["workloads", n.namespace, n.workload!]) : n.app ? href(["applications", n.namespace, n.app]) : undefined;

export function GraphPage({ params }: { params: URLSearchParams }) {
  const graphType = params.get("type") ?? "versionedApp";
  const window = params.get("window") ?? "5m";
  const refresh = Number(params.get("refresh") ?? "10000");
  const edges = params.get("edges") ?? "rps";
  const namespaces = params.get("namespaces") ?? "";
  const find = params.get("find") ?? "";
  const hide = params.get("hide") ?? "";
  const [selected, setSelected] = useState<{ node?: GraphNode; edge?: GraphEdge }>({});
  const container = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);
  const { data, error } = usePoll(() => api.get<MeshGraph>(`/api/v1/telemetry/graph?graphType=${graphType}&window=${window}&namespaces=${encodeURIComponent(namespaces)}`), [graphType, window, namespaces], refresh);

  const shown = data ? hideFilter(data, hide) : undefined;
  useEffect(() => {
    if (!container.current || !shown) return;
    if (!cy.current) {
      cy.current = cytoscape({
        container: container.current,
        style: [
          { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "text-valign": "bottom", "text-margin-y": 4, "font-size": 11, "background-color": "data(color)", "border-width": 2, "border-color": "#4f5255", width: 28, height: 28 } },
          { selector: "node[nodeType = 'service']", style: { shape: "triangle" } },
          { selector: "node[nodeType = 'unknown']", style: { shape: "diamond", "background-color": "#d2d2d2" } },
          { selector: "node.found", style: { "border-color": "#0066cc", "border-width": 5 } },
          { selector: "edge", style: { width: 2, "curve-style": "bezier", "target-arrow-shape": "triangle", label: "data(label)", "font-size": 10, "text-background-color": "#fff", "text-background-opacity": 0.8, "line-color": "data(color)", "target-arrow-color": "data(color)" } },
          { selector: ":selected", style: { "border-color": "#0066cc", "line-color": "#0066cc", "target-arrow-color": "#0066cc" } },
        ],
      });
      cy.current.on("tap", "node", (ev) => setSelected({ node: ev.target.data("raw") as GraphNode }));
      cy.current.on("tap", "edge", (ev) => setSelected({ edge: ev.target.data("raw") as GraphEdge }));
      cy.current.on("tap", (ev) => { if (ev.target === cy.current) setSelected({}); });
    }
    const c = cy.current;
    const elements = [
      ...shown.nodes.map((n) => ({ group: "nodes" as const, data: { id: n.id, label: nodeLabel(n), nodeType: n.nodeType, color: health(n.traffic.inErrorRatio, n.traffic.inRps), raw: n } })),
      ...shown.edges.map((e) => ({ group: "edges" as const, data: { id: e.id, source: e.source, target: e.target, label: edgeLabel(e, edges), color: health(e.errorRatio, e.rps || e.tcpBytesPerSec), raw: e } })),
    ];
    const before = c.elements().map((el) => el.id()).sort().join();
    c.json({ elements });
    c.elements().forEach((el) => { if (!elements.some((x) => x.data.id === el.id())) el.remove(); });
    if (before !== c.elements().map((el) => el.id()).sort().join()) c.layout({ name: "dagre", rankDir: "LR", nodeSep: 40, rankSep: 90 } as cytoscape.LayoutOptions).run();
    c.nodes().removeClass("found");
    if (find) c.nodes().filter((n) => String(n.data("label")).includes(find) || n.id().includes(find)).addClass("found");
  }, [shown, edges, find]);
  useEffect(() => () => { cy.current?.destroy(); cy.current = null; }, []);

  return (
    <section className="graph-page">
      <h1>Traffic Graph</h1>
      <div className="toolbar" role="toolbar" aria-label="Graph settings">
        <label>Graph type <select value={graphType} onChange={(e) => setParams({ type: e.target.value })}>
          <option value="versionedApp">Versioned app</option><option value="app">App</option><option value="workload">Workload</option><option value="service">Service</option>
        </select></label>
        <label>Window <select value={window} onChange={(e) => setParams({ window: e.target.value })}>
          {(WINDOWS.includes(window) ? WINDOWS : [window, ...WINDOWS]).map((w) => <option key={w} value={w}>Last {w}</option>)}
        </select></label>
        <label>Refresh <select value={String(refresh)} onChange={(e) => setParams({ refresh: e.target.value })}>
          {REFRESH.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
        </select></label>
        <label>Edge labels <select value={edges} onChange={(e) => setParams({ edges: e.target.value })}>
          <option value="none">None</option><option value="rps">Request rate</option><option value="responseTime">Response time (p95)</option><option value="errorRatio">Error ratio</option>
        </select></label>
        <label>Namespaces <input value={namespaces} placeholder="all" onChange={(e) => setParams({ namespaces: e.target.value })} size={10} /></label>
        <label>Find <input value={find} onChange={(e) => setParams({ find: e.target.value })} size={10} /></label>
        <label>Hide <input value={hide} onChange={(e) => setParams({ hide: e.target.value })} size={10} /></label>
      </div>
      {error && <p role="alert" className="error">Cannot load the graph: {error}</p>}
      {data && data.nodes.length === 0 && <p className="empty">No traffic in the last {window}. Send some requests through the mesh.</p>}
      <div className="graph-body">
        <div ref={container} className="graph" role="img" aria-label={`Mesh graph: ${shown?.nodes.length ?? 0} nodes, ${shown?.edges.length ?? 0} edges`} />
        <SidePanel node={selected.node} edge={selected.edge} />
      </div>
      <details>
        <summary>Edges as a table</summary>
        <table aria-label="Graph edges">
          <thead><tr><th>From</th><th>To</th><th>Protocol</th><th>Requests/s</th><th>Errors</th><th>p95 ms</th><th>mTLS</th></tr></thead>
          <tbody>
            {(shown?.edges ?? []).map((e) => (
              <tr key={e.id} data-edge={e.id}><td>{e.source}</td><td>{e.target}</td><td>{e.protocol}</td><td>{e.rps.toFixed(2)}</td><td>{pct(e.errorRatio)}</td><td>{e.responseTimeMs?.p95.toFixed(1) ?? "–"}</td><td>{e.mtlsRatio >= 0.99 ? "yes" : e.mtlsRatio > 0 ? pct(e.mtlsRatio) : "no"}</td></tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}

function hideFilter(g: MeshGraph, hide: string): MeshGraph {
  if (!hide) return g;
  const hidden = new Set(g.nodes.filter((n) => n.id.includes(hide) || nodeLabel(n).includes(hide)).map((n) => n.id));
  return { ...g, nodes: g.nodes.filter((n) => !hidden.has(n.id)), edges: g.edges.filter((e) => !hidden.has(e.source) && !hidden.has(e.target)) };
}

function SidePanel({ node, edge }: { node?: GraphNode; edge?: GraphEdge }) {
  if (!node && !edge) return <aside className="side" aria-label="Details"><p className="muted">Click a node or an edge for its details.</p></aside>;
  if (node) {
    const link = detailLink(node);
    return (
      <aside className="side" aria-label="Details">
        <h2>{nodeLabel(node).replace("\n", " ")}</h2>
        <dl>
          <dt>Type</dt><dd>{node.nodeType}</dd><dt>Namespace</dt><dd>{node.namespace}</dd>
          <dt>Inbound</dt><dd>{node.traffic.inRps.toFixed(2)} req/s, {pct(node.traffic.inErrorRatio)} errors</dd>
          <dt>Outbound</dt><dd>{node.traffic.outRps.toFixed(2)} req/s</dd>
        </dl>
        {link && <a href={link}>Details and charts</a>}
      </aside>
    );
  }
  const e = edge!;
  return (
    <aside className="side" aria-label="Details">
      <h2>Edge</h2>
      <dl>
        <dt>From</dt><dd>{e.source}</dd><dt>To</dt><dd>{e.target}</dd><dt>Protocol</dt><dd>{e.protocol}</dd>
        <dt>Rate</dt><dd>{e.rps.toFixed(2)} req/s</dd><dt>Errors</dt><dd>{pct(e.errorRatio)}</dd>
        <dt>Response time</dt><dd>{e.responseTimeMs ? `p50 ${e.responseTimeMs.p50} · p95 ${e.responseTimeMs.p95} · p99 ${e.responseTimeMs.p99} ms` : "–"}</dd>
        <dt>mTLS</dt><dd>{pct(e.mtlsRatio)}</dd>
        <dt>Codes</dt><dd>{Object.entries(e.responseCodes).map(([c, r]) => `${c}: ${r.toFixed(2)}/s`).join(", ") || "–"}</dd>
      </dl>
    </aside>
  );
}
