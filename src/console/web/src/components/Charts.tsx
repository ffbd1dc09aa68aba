// Request rate, error ratio, latency and size charts of one entity, drawn with Recharts.
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { EntityMetrics, Points } from "../api";

const time = (t: number) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function merge(series: Record<string, Points>): Array<Record<string, number>> {
  const rows = new Map<number, Record<string, number>>();
  for (const [name, points] of Object.entries(series)) for (const [t, v] of points) rows.set(t, { ...(rows.get(t) ?? { t }), [name]: v });
  return [...rows.values()].sort((a, b) => a.t - b.t);
}

function Chart({ title, series, unit }: { title: string; series: Record<string, Points>; unit: string }) {
  const data = merge(series);
  const colors = ["#0066cc", "#c9190b", "#3e8635", "#f0ab00"];
  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {data.length === 0 ? <p className="empty">No data in this window.</p> : (
        <ResponsiveContainer width="100%" height={160}>
          <LineChart data={data} margin={{ left: 0, right: 8, top: 4, bottom: 0 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="t" tickFormatter={time} minTickGap={40} fontSize={11} />
            <YAxis fontSize={11} unit={unit} width={56} />
            <Tooltip labelFormatter={(t) => time(Number(t))} formatter={(v) => `${Number(v).toFixed(3)}${unit}`} />
            {Object.keys(series).length > 1 && <Legend />}
            {Object.keys(series).map((k, i) => <Line key={k} type="monotone" dataKey={k} stroke={colors[i % colors.length]} dot={data.length < 3} isAnimationActive={false} />)}
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}

export function MetricsCharts({ m }: { m: EntityMetrics }) {
  return (
    <div className="charts">
      <Chart title="Request rate" series={{ "req/s": m.requestRate }} unit="" />
      <Chart title="Error ratio (5xx)" series={{ errors: m.errorRatio.map(([t, v]) => [t, v * 100]) }} unit="%" />
      <Chart title="Request duration" series={{ p50: m.p50, p95: m.p95, p99: m.p99 }} unit="ms" />
      <Chart title="Request and response size (average)" series={{ request: m.requestSize, response: m.responseSize }} unit="B" />
      {(m.tcpSent.length > 0 || m.tcpReceived.length > 0) && <Chart title="TCP throughput" series={{ sent: m.tcpSent, received: m.tcpReceived }} unit="B/s" />}
    </div>
  );
}
