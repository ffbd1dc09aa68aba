// The traffic graph as Kiali draws it: Cytoscape with a dagre layout, nodes coloured by health with badges, edge
// labels (rate, share of requests, response time, throughput), padlocks on mTLS edges, a Display menu, a legend,
// Find/Hide expressions, double-click to focus, a namespace drop-down of the namespaces that exist, and a side panel.
// The view's settings live in the URL, so a link reproduces it.
import { useEffect, useRef, useState } from "react";
import cytoscape, { type Core } from "cytoscape";
import dagre from "cytoscape-dagre";
import { allResources, api, type GraphEdge, type GraphNode, type MeshGraph, type ProxyStatus } from "../api";
import { usePoll, setParams, href } from "../router";
import { pct } from "../components/Health";
import { FIND_HELP, parseFind } from "./graph-find";
import { focused, healthColor, healthName, hidden, nodeLabel, withIdle, withoutServices } from "./graph-view";
import { badgesOf, drawOverlay } from "./graph-overlay";
import { GraphLegend } from "./GraphLegend";
import { NodeCharts } from "../components/NodeCharts";
import { EdgeCharts } from "../components/EdgeCharts";

cytoscape.use(dagre);

const WINDOWS = ["1m", "5m", "10m", "30m", "1h"];
const REFRESH: Array<[string, string]> = [["0", "Off"], ["10000", "10 s"], ["30000", "30 s"], ["60000", "1 min"]];
const DISPLAY: Array<[string, string, boolean]> = [["animation", "Traffic animation", false], ["security", "Security (mTLS)", true], ["idle", "Idle nodes", false], ["idleEdges", "Idle edges", false], ["services", "Service nodes", true], ["boxes", "Namespace boxes", false], ["badges", "Badges", true]];

function edgeLabel(e: GraphEdge, mode: string, sourceOut: number): string {
  if (mode === "rps") return e.protocol === "tcp" ? `${Math.round(e.tcpBytesPerSec)} B/s` : `${e.rps.toFixed(2)} rps`;
  if (mode === "percent") return sourceOut > 0 ? `${((e.rps / sourceOut) * 100).toFixed(1)}%` : "";
  if (mode === "p50" || mode === "p95" || mode === "p99") return e.responseTimeMs ? `${e.responseTimeMs[mode].toFixed(1)} ms` : "";
  if (mode === "throughput") return e.tcpBytesPerSec > 0 ? `${(e.tcpBytesPerSec / 1024).toFixed(1)} KiB/s` : "";
  if (mode === "errorRatio") return e.errorRatio > 0 ? pct(e.errorRatio) : "";
  return "";
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
  const focus = params.get("focus") ?? "";
  const display = Object.fromEntries(DISPLAY.map(([id, , on]) => [id, params.has(id) ? params.get(id) === "1" : on]));
  const [selected, setSelected] = useState<{ node?: GraphNode; edge?: GraphEdge }>({});
  const container = useRef<HTMLDivElement>(null);
  const overlay = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);
  const proxies = usePoll(() => api.get<ProxyStatus[]>("/debug/proxies"), [], 30_000);
  const resources = usePoll(allResources, [], 30_000);
  const known = [...new Set([...(proxies.data ?? []).flatMap((p) => (p.workload ? [p.workload.namespace] : [])), ...(resources.data ?? []).map((r) => r.metadata.namespace ?? "default")])].sort();
  const wanted = namespaces.split(",").filter(Boolean);
  const missing = proxies.data && resources.data ? wanted.filter((n) => !known.includes(n)) : [];
  const { data, error } = usePoll(() => api.get<MeshGraph>(`/api/v1/telemetry/graph?graphType=${graphType}&window=${window}&namespaces=${encodeURIComponent(namespaces)}&idleEdges=${display.idleEdges}`), [graphType, window, namespaces, display.idleEdges], refresh);
  const findExpr = parseFind(find);
  const hideExpr = parseFind(hide);

  let shown: MeshGraph | undefined = data && missing.length === 0 ? data : undefined;
  if (shown && display.idle) shown = withIdle(shown, (proxies.data ?? []).flatMap((p) => (p.workload ? [p.workload] : [])), wanted);
  if (shown && !display.services) shown = withoutServices(shown);
  if (shown && hideExpr.ok) shown = hidden(shown, hideExpr.selector);
  if (shown && focus) shown = focused(shown, focus);

  useEffect(() => {
    if (!container.current) return;
    if (!shown) {
      // Nothing to show (an unknown namespace): what was drawn before must not stay on the canvas.
      cy.current?.elements().remove();
      if (overlay.current) overlay.current.innerHTML = "";
      container.current.dataset.drawnNodes = "0";
      return;
    }
    if (!cy.current) {
      cy.current = cytoscape({
        container: container.current,
        wheelSensitivity: 0.3,
        // A focused or small graph is fitted too, but never blown up past readable sizes.
        minZoom: 0.2,
        maxZoom: 1.6,
        style: [
          { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "text-valign": "bottom", "text-margin-y": 4, "font-size": 11, "background-color": "#fff", "border-width": 3, "border-color": "data(color)", width: 30, height: 30, "text-background-color": "#fff", "text-background-opacity": 0.85, "text-background-padding": "1px" } },
          { selector: "node[nodeType = 'service']", style: { shape: "triangle" } },
          { selector: "node[nodeType = 'workload']", style: { shape: "round-rectangle" } },
          { selector: "node[nodeType = 'unknown']", style: { shape: "diamond", "background-color": "#d2d2d2", "border-color": "#8a8d90" } },
          { selector: "node[?root]", style: { shape: "round-tag" } },
          { selector: ":parent", style: { "background-color": "#f5f8fb", "border-color": "#73bcf7", "border-width": 1, "text-valign": "top", label: "data(label)", shape: "round-rectangle" } },
          { selector: "node.found", style: { "overlay-color": "#0066cc", "overlay-opacity": 0.25, "overlay-padding": 8 } },
          { selector: "edge", style: { width: 2, "curve-style": "bezier", "control-point-step-size": 50, "target-arrow-shape": "triangle", label: "data(label)", "font-size": 9, "text-rotation": "autorotate", "text-margin-y": -8, "text-background-color": "#fff", "text-background-opacity": 0.9, "text-background-padding": "1px", "line-color": "data(color)", "target-arrow-color": "data(color)" } },
          { selector: "edge.animated", style: { "line-style": "dashed", "line-dash-pattern": [6, 4] } },
          // Idle edges (no traffic in the window, counters still reported): dotted grey, as Kiali draws them.
          { selector: "edge[?idle]", style: { "line-style": "dotted", "line-color": "#b8bbbe", "target-arrow-color": "#b8bbbe" } },
          { selector: "edge.found", style: { width: 5 } },
          { selector: ":selected", style: { "border-color": "#0066cc", "line-color": "#0066cc", "target-arrow-color": "#0066cc" } },
        ],
      });
      cy.current.on("tap", "node", (ev) => setSelected({ node: ev.target.data("raw") as GraphNode }));
      cy.current.on("tap", "edge", (ev) => setSelected({ edge: ev.target.data("raw") as GraphEdge }));
      cy.current.on("tap", (ev) => { if (ev.target === cy.current) setSelected({}); });
      cy.current.on("dbltap", "node", (ev) => { if (!ev.target.isParent()) setParams({ focus: ev.target.id() }); });
    }
    const c = cy.current;
    const outOf = new Map(shown.nodes.map((n) => [n.id, shown!.edges.filter((e) => e.source === n.id).reduce((s, e) => s + e.rps, 0)]));
    const boxes = display.boxes ? [...new Set(shown.nodes.filter((n) => !n.isUnknown).map((n) => n.namespace))] : [];
    const elements = [
      ...boxes.map((ns) => ({ group: "nodes" as const, data: { id: `box:${ns}`, label: ns } })),
      ...shown.nodes.map((n) => ({ group: "nodes" as const, data: {
        id: n.id, label: nodeLabel(n), nodeType: n.nodeType, root: n.isRoot && !n.isUnknown, color: healthColor(n.traffic.inErrorRatio, n.traffic.inRps), raw: n,
        badges: badgesOf(n, resources.data ?? [], proxies.data ?? []), ...(display.boxes && !n.isUnknown ? { parent: `box:${n.namespace}` } : {}),
      } })),
      ...shown.edges.map((e) => ({ group: "edges" as const, data: { id: e.id, source: e.source, target: e.target, label: edgeLabel(e, edges, outOf.get(e.source) ?? 0), color: healthColor(e.errorRatio, e.rps || e.tcpBytesPerSec), mtls: e.mtlsRatio >= 0.99, idle: e.rps === 0 && e.tcpBytesPerSec === 0, raw: e } })),
    ];
    const before = c.elements().map((el) => el.id()).sort().join();
    c.elements().remove();
    c.add(elements);
    if (before !== c.elements().map((el) => el.id()).sort().join()) c.layout({ name: "dagre", rankDir: "LR", nodeSep: 50, rankSep: 110 } as cytoscape.LayoutOptions).run();
    c.elements().removeClass("found");
    if (findExpr.ok && findExpr.selector) {
      const s = findExpr.selector;
      const test = s.test as (x: unknown) => boolean;
      c.elements(s.on === "node" ? "node" : "edge").filter((el: cytoscape.SingularElementArgument) => !!el.data("raw") && test(el.data("raw"))).addClass("found");
    }
    c.edges().toggleClass("animated", display.animation);
    const draw = () => overlay.current && drawOverlay(c, overlay.current, { security: display.security, badges: display.badges });
    container.current.dataset.drawnNodes = String(c.nodes().filter((n) => !n.isParent()).length);
    c.off("render");
    c.on("render", draw);
    draw();
  }, [shown && JSON.stringify(shown), edges, find, JSON.stringify(display), resources.data, proxies.data]);
  // Traffic animation: dashes that move along the edges; one bounded timer, stopped when turned off or on leaving.
  useEffect(() => {
    if (!display.animation) return;
    let offset = 0;
    const timer = setInterval(() => { offset = (offset + 1) % 1000; cy.current?.edges(".animated").style("line-dash-offset", -offset); }, 60);
    return () => clearInterval(timer);
  }, [display.animation]);
  useEffect(() => () => { cy.current?.destroy(); cy.current = null; }, []);

  const nsOptions = [...new Set([...known, ...wanted])];
  return (
    <section className="graph-page">
      <h1>Traffic Graph</h1>
      <div className="toolbar" role="toolbar" aria-label="Graph settings">
        <label>Namespace <select aria-label="Namespace" value={namespaces} onChange={(e) => setParams({ namespaces: e.target.value, focus: undefined })}>
          <option value="">All namespaces</option>{nsOptions.map((n) => <option key={n} value={n}>{n}{known.includes(n) ? "" : " (does not exist)"}</option>)}
        </select></label>
        <label>Graph type <select value={graphType} onChange={(e) => setParams({ type: e.target.value, focus: undefined })}>
          <option value="versionedApp">Versioned app</option><option value="app">App</option><option value="workload">Workload</option><option value="service">Service</option>
        </select></label>
        <label>Window <select value={window} onChange={(e) => setParams({ window: e.target.value })}>
          {(WINDOWS.includes(window) ? WINDOWS : [window, ...WINDOWS]).map((w) => <option key={w} value={w}>Last {w}</option>)}
        </select></label>
        <label>Refresh <select value={String(refresh)} onChange={(e) => setParams({ refresh: e.target.value })}>
          {REFRESH.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
        </select></label>
        <label>Edge labels <select value={edges} onChange={(e) => setParams({ edges: e.target.value })}>
          <option value="none">None</option><option value="rps">Request rate</option><option value="percent">Request distribution (%)</option><option value="p50">Response time p50</option><option value="p95">Response time p95</option><option value="p99">Response time p99</option><option value="throughput">Throughput (TCP)</option><option value="errorRatio">Error ratio</option>
        </select></label>
        <details className="menu"><summary>Display</summary>
          <div className="menu-body" role="group" aria-label="Display">
            {DISPLAY.map(([id, label]) => <label key={id}><input type="checkbox" checked={display[id]} onChange={(e) => setParams({ [id]: e.target.checked ? "1" : "0" })} /> {label}</label>)}
          </div>
        </details>
        <label>Find <input aria-label="Find" value={find} onChange={(e) => setParams({ find: e.target.value })} size={16} placeholder="name = reviews" aria-invalid={!findExpr.ok} /></label>
        <label>Hide <input aria-label="Hide" value={hide} onChange={(e) => setParams({ hide: e.target.value })} size={16} placeholder="%httperr > 10" aria-invalid={!hideExpr.ok} /></label>
        <details className="menu"><summary>Help</summary><div className="menu-body help">{FIND_HELP}</div></details>
        {focus && <button onClick={() => setParams({ focus: undefined })}>Show the whole graph</button>}
      </div>
      {!findExpr.ok && <p role="alert" className="error">Find: {findExpr.error}</p>}
      {!hideExpr.ok && <p role="alert" className="error">Hide: {hideExpr.error}</p>}
      {error && <p role="alert" className="error">Cannot load the graph: {error}</p>}
      {missing.length > 0 && <p className="empty" role="status">Namespace {missing.join(", ")} does not exist: no workload runs there and no Istio resource names it.</p>}
      {shown && data!.nodes.length === 0 && <p className="empty" role="status">No traffic in {wanted.length ? `namespace ${wanted.join(", ")}` : "the mesh"} in the last {window}. Send some requests through the mesh.</p>}
      <div className="graph-body">
        <div className="graph-wrap">
          <div ref={container} className="graph" role="img" aria-label={`Mesh graph: ${shown?.nodes.length ?? 0} nodes, ${shown?.edges.length ?? 0} edges`} />
          <div ref={overlay} className="graph-overlay" aria-hidden="true" />
        </div>
        <SidePanel node={shown?.nodes.some((n) => n.id === selected.node?.id) ? selected.node : undefined} edge={shown?.edges.some((e) => e.id === selected.edge?.id) ? selected.edge : undefined} nodes={shown?.nodes ?? []} window={window} />
      </div>
      <GraphLegend />
      <details>
        <summary>Nodes and edges as tables</summary>
        <table aria-label="Graph nodes">
          <thead><tr><th>Node</th><th>Type</th><th>Namespace</th><th>In req/s</th><th>In errors</th><th>Health</th></tr></thead>
          <tbody>{(shown?.nodes ?? []).map((n) => (
            <tr key={n.id} data-node={n.id} data-health={healthName(n.traffic.inErrorRatio, n.traffic.inRps)} data-error-ratio={n.traffic.inErrorRatio}><td><button className="link" onClick={() => setSelected({ node: n })}>{nodeLabel(n).replace("\n", " ")}</button></td><td>{n.nodeType}</td><td>{n.namespace}</td><td>{n.traffic.inRps.toFixed(2)}</td><td>{pct(n.traffic.inErrorRatio)}</td><td>{healthName(n.traffic.inErrorRatio, n.traffic.inRps)}</td></tr>
          ))}</tbody>
        </table>
        <table aria-label="Graph edges">
          <thead><tr><th>From</th><th>To</th><th>Protocol</th><th>Requests/s</th><th>Errors</th><th>p95 ms</th><th>mTLS</th></tr></thead>
          <tbody>
            {(shown?.edges ?? []).map((e) => (
              <tr key={e.id} data-edge={e.id} data-error-ratio={e.errorRatio}><td>{e.source}</td><td>{e.target}</td><td>{e.protocol}</td><td>{e.rps.toFixed(2)}</td><td>{pct(e.errorRatio)}</td><td>{e.responseTimeMs?.p95.toFixed(1) ?? "–"}</td><td>{e.mtlsRatio >= 0.99 ? "yes" : e.mtlsRatio > 0 ? pct(e.mtlsRatio) : "no"}</td></tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}

function SidePanel({ node, edge, nodes, window }: { node?: GraphNode; edge?: GraphEdge; nodes: GraphNode[]; window: string }) {
  if (!node && !edge) return <aside className="side" aria-label="Details"><p className="muted">Click a node or an edge for its details; double-click a node to focus on it.</p></aside>;
  const name = (id: string) => { const n = nodes.find((x) => x.id === id); return n ? `${nodeLabel(n).replace("\n", " ")} (${n.nodeType}, ${n.namespace})` : id; };
  if (node) {
    const link = detailLink(node);
    return (
      <aside className="side" aria-label="Details">
        <h2>{nodeLabel(node).replace("\n", " ")}</h2>
        <dl>
          <dt>Type</dt><dd>{node.nodeType}</dd><dt>Namespace</dt><dd>{node.namespace}</dd>
          <dt>Inbound (last {window})</dt><dd>{node.traffic.inRps.toFixed(2)} req/s, {pct(node.traffic.inErrorRatio)} errors</dd>
          <dd><span className="bar" aria-label={`Inbound errors ${pct(node.traffic.inErrorRatio)}`}><span style={{ width: `${Math.min(100, node.traffic.inErrorRatio * 100)}%` }} /></span></dd>
          <dt>Outbound</dt><dd>{node.traffic.outRps.toFixed(2)} req/s</dd>
        </dl>
        <NodeCharts node={node} />
        {link && <a href={link}>Details and charts</a>}
      </aside>
    );
  }
  const e = edge!;
  return (
    <aside className="side" aria-label="Details">
      <h2>Edge</h2>
      <dl>
        <dt>From</dt><dd>{name(e.source)}</dd><dt>To</dt><dd>{name(e.target)}</dd><dt>Protocol</dt><dd>{e.protocol}</dd>
        <dt>Rate</dt><dd>{e.rps.toFixed(2)} req/s</dd><dt>Errors</dt><dd>{pct(e.errorRatio)}</dd>
        <dt>Response time</dt><dd>{e.responseTimeMs ? `p50 ${e.responseTimeMs.p50} · p95 ${e.responseTimeMs.p95} · p99 ${e.responseTimeMs.p99} ms` : "–"}</dd>
        <dt>mTLS</dt><dd>{pct(e.mtlsRatio)}</dd>
        <dt>Codes</dt><dd>{Object.entries(e.responseCodes).map(([c, r]) => `${c}: ${r.toFixed(2)}/s`).join(", ") || "–"}</dd>
      </dl>
      <EdgeCharts edge={e} />
    </aside>
  );
}
