// Small charts of one graph edge (request rate, error ratio and p95 latency, last 10 minutes) for the graph's side
// panel, from /api/v1/telemetry/edge-metrics.
import { api, type GraphEdge, type Points } from "../api";
import { usePoll } from "../router";
import { Spark } from "./NodeCharts";

interface EdgeMetrics { requestRate: Points; errorRatio: Points; p95: Points }

export function EdgeCharts({ edge }: { edge: GraphEdge }) {
  const { data, error } = usePoll(() => api.get<EdgeMetrics>(`/api/v1/telemetry/edge-metrics?source=${encodeURIComponent(edge.source)}&target=${encodeURIComponent(edge.target)}&window=10m`), [edge.source, edge.target], 30_000);
  if (edge.protocol === "tcp") return null;
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="muted">Loading charts…</p>;
  return (
    <div className="sparks">
      <Spark title="Requests/s (10 min)" points={data.requestRate} color="#0066cc" unit="" />
      <Spark title="Errors % (10 min)" points={data.errorRatio.map(([t, v]) => [t, v * 100])} color="#c9190b" unit="%" />
      <Spark title="p95 response time (10 min)" points={data.p95} color="#5752d1" unit=" ms" />
    </div>
  );
}
