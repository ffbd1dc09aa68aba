// The Traffic tab: every caller of an entity and everything it calls, from the graph API, with rate, errors,
// response time and mTLS per peer, as Kiali's Traffic tab lists them.
import { api, type GraphEdge, type MeshGraph } from "../api";
import { usePoll } from "../router";
import { pct } from "./Health";
import { healthName, nodeLabel } from "../pages/graph-view";

export function TrafficTable({ kind, namespace, name }: { kind: "service" | "workload" | "app"; namespace: string; name: string }) {
  const graphType = kind === "workload" ? "workload" : "versionedApp";
  const { data, error } = usePoll(() => api.get<MeshGraph>(`/api/v1/telemetry/graph?graphType=${graphType}&window=10m`), [graphType], 15_000);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const mine = new Set(data.nodes.filter((n) => n.namespace === namespace && (kind === "service" ? n.service === name : kind === "workload" ? n.workload === name : n.app === name && n.nodeType !== "service")).map((n) => n.id));
  const label = (id: string) => { const n = data.nodes.find((x) => x.id === id); return n ? `${nodeLabel(n).replace("\n", " ")} (${n.nodeType})` : id; };
  const rows: Array<[string, GraphEdge, string]> = [
    ...data.edges.filter((e) => mine.has(e.target)).map((e) => ["Inbound", e, e.source] as [string, GraphEdge, string]),
    ...data.edges.filter((e) => mine.has(e.source)).map((e) => ["Outbound", e, e.target] as [string, GraphEdge, string]),
  ];
  if (rows.length === 0) return <p className="empty">No traffic to or from {name} in the last 10 minutes.</p>;
  return (
    <table aria-label="Traffic">
      <thead><tr><th>Direction</th><th>Peer</th><th>Protocol</th><th>Health</th><th>Requests/s</th><th>Errors</th><th>p50 / p95 / p99 ms</th><th>mTLS</th></tr></thead>
      <tbody>{rows.map(([dir, e, peer]) => (
        <tr key={`${dir}/${e.id}`}>
          <td>{dir}</td><td>{label(peer)}</td><td>{e.protocol}</td><td>{healthName(e.errorRatio, e.rps || e.tcpBytesPerSec)}</td>
          <td>{e.protocol === "tcp" ? `${Math.round(e.tcpBytesPerSec)} B/s` : e.rps.toFixed(2)}</td><td>{pct(e.errorRatio)}</td>
          <td>{e.responseTimeMs ? `${e.responseTimeMs.p50} / ${e.responseTimeMs.p95} / ${e.responseTimeMs.p99}` : "–"}</td><td>{e.mtlsRatio >= 0.99 ? "yes" : e.mtlsRatio > 0 ? pct(e.mtlsRatio) : "no"}</td>
        </tr>
      ))}</tbody>
    </table>
  );
}
