// The graph's legend: node shapes, health colours, edges and badges, drawn in SVG as the graph draws them.
import { LOCK_SVG } from "./graph-overlay";

const shape = (d: string, stroke = "#3e8635") => <svg width="22" height="22" viewBox="0 0 22 22" aria-hidden="true"><path d={d} fill="#fff" stroke={stroke} strokeWidth="2.5" /></svg>;

export function GraphLegend() {
  return (
    <details className="legend"><summary>Legend</summary>
      <div className="legend-body" aria-label="Legend">
        <div><h3>Nodes</h3>
          <p>{shape("M11 2a9 9 0 1 0 0.01 0Z")} App or versioned app</p>
          <p>{shape("M3 4h16v14H3Z")} Workload</p>
          <p>{shape("M11 2L20 19H2Z")} Service</p>
          <p>{shape("M11 1L21 11L11 21L1 11Z", "#8a8d90")} Unknown caller (no sidecar)</p>
        </div>
        <div><h3>Health (inbound errors)</h3>
          <p><i className="dot valid" /> Healthy: under 0.1 %</p><p><i className="dot warning" /> Degraded: 0.1 % to 20 %</p><p><i className="dot error" /> Failure: 20 % or more</p><p><i className="dot" /> Idle: no traffic</p>
        </div>
        <div><h3>Edges</h3>
          <p><span dangerouslySetInnerHTML={{ __html: LOCK_SVG }} /> Mutual TLS on every request</p>
          <p>Dashed and moving: traffic animation</p>
        </div>
        <div><h3>Badges</h3>
          <p><span className="gbadge" style={{ background: "#6753ac" }}>VS</span> VirtualService</p>
          <p><span className="gbadge" style={{ background: "#ec7a08" }}>CB</span> Circuit breaker</p>
          <p><span className="gbadge" style={{ background: "#c9190b" }}>FI</span> Fault injection</p>
          <p><span className="gbadge" style={{ background: "#8a8d90" }}>MS</span> Missing sidecar</p>
          <p><span className="gbadge" style={{ background: "#009596" }}>GW</span> Gateway</p>
        </div>
      </div>
    </details>
  );
}
