// Small charts of one graph node's inbound traffic (request rate and error ratio, last 10 minutes) for the graph's
// side panel, from the same metrics API as the detail pages.
import { Line, LineChart, ResponsiveContainer, Tooltip, YAxis } from "recharts";
import { api, type EntityMetrics, type GraphNode, type Points } from "../api";
import { usePoll } from "../router";

export function Spark({ title, points, color, unit }: { title: string; points: Points; color: string; unit: string }) {
  return (
    <figure className="spark" aria-label={title}>
      <figcaption>{title}</figcaption>
      {points.length === 0 ? <p className="empty">No data.</p> : (
        <ResponsiveContainer width="100%" height={60}>
          <LineChart data={points.map(([t, v]) => ({ t, v }))} margin={{ top: 2, right: 2, bottom: 2, left: 0 }}>
            <YAxis width={34} fontSize={9} />
            <Tooltip labelFormatter={(_l, p) => new Date(Number(p?.[0]?.payload?.t ?? 0)).toLocaleTimeString()} formatter={(v) => `${Number(v).toFixed(2)}${unit}`} />
            <Line dataKey="v" stroke={color} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}

export function NodeCharts({ node }: { node: GraphNode }) {
  const kind = node.nodeType === "service" ? "service" : node.nodeType === "workload" ? "workload" : "app";
  const name = node.service ?? node.workload ?? node.app ?? "";
  const { data, error } = usePoll(() => api.get<EntityMetrics>(`/api/v1/telemetry/metrics?kind=${kind}&namespace=${encodeURIComponent(node.namespace)}&name=${encodeURIComponent(name)}&direction=inbound&window=10m`), [kind, node.namespace, name], 30_000);
  if (node.isUnknown || !name) return null;
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="muted">Loading charts…</p>;
  return (
    <div className="sparks">
      <Spark title="Inbound requests/s (10 min)" points={data.requestRate} color="#0066cc" unit="" />
      <Spark title="Inbound errors % (10 min)" points={data.errorRatio.map(([t, v]) => [t, v * 100])} color="#c9190b" unit="%" />
    </div>
  );
}
