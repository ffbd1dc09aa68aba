// Overview: every namespace with its apps, workloads and services, their health (from the callers' view too, so
// failures that never reached a workload count), and its inbound traffic.
import { api, type HealthEntry, type Points, type ProxyStatus } from "../api";
import { usePoll, href } from "../router";
import { HealthBadge, worst } from "../components/Health";
import { Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

interface Matrix { data: { result: Array<{ values: Array<[number, string]> }> } }

function Traffic({ namespace }: { namespace: string }) {
  const now = Math.floor(Date.now() / 1000);
  const { data } = usePoll(() => api.get<Matrix>(`/api/v1/query_range?query=${encodeURIComponent(`sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}"}[1m]))`)}&start=${now - 600}&end=${now}&step=15`), [namespace], 15_000);
  const points: Points = (data?.data.result[0]?.values ?? []).map(([t, v]) => [t * 1000, Number(v)]);
  if (points.length === 0) return <p className="empty">No inbound traffic in the last 10 minutes.</p>;
  return (
    <figure className="chart small" aria-label={`Inbound traffic of ${namespace}`}>
      <figcaption>Inbound requests/s, last 10 min</figcaption>
      <ResponsiveContainer width="100%" height={90}>
        <LineChart data={points.map(([t, v]) => ({ t, v }))}>
          <XAxis dataKey="t" hide />
          <YAxis width={40} fontSize={10} />
          <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleTimeString()} formatter={(v) => Number(v).toFixed(2)} />
          <Line dataKey="v" stroke="#0066cc" dot={false} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function Overview() {
  const proxies = usePoll(() => api.get<ProxyStatus[]>("/debug/proxies"), [], 10_000);
  const health = usePoll(() => api.get<HealthEntry[]>("/api/v1/telemetry/health?window=5m"), [], 15_000);
  const workloads = (proxies.data ?? []).flatMap((p) => (p.workload ? [p.workload] : []));
  const namespaces = [...new Set(workloads.map((w) => w.namespace))].sort();
  return (
    <section>
      <h1>Overview</h1>
      {proxies.error && <p role="alert" className="error">Cannot reach the control plane: {proxies.error}</p>}
      {namespaces.length === 0 && !proxies.error && <p className="empty">No workloads have joined the mesh yet. Start one with <code>trellis run</code> or <code>trellis demo</code>.</p>}
      <div className="cards">
        {namespaces.map((ns) => {
          const wl = workloads.filter((w) => w.namespace === ns);
          const apps = new Set(wl.map((w) => w.labels.app).filter(Boolean));
          const services = new Set(wl.map((w) => w.service).filter(Boolean));
          const all = (health.data ?? []).filter((e) => e.namespace === ns);
          const h = all.filter((e) => e.kind === "app" || e.kind === "service");
          const count = (kind: string, status: string) => all.filter((e) => e.kind === kind && e.status === status).length;
          const line = (kind: string, label: string) => `${label}: ${count(kind, "Healthy")} healthy, ${count(kind, "Degraded")} degraded, ${count(kind, "Failure")} failing`;
          return (
            <article className="card" key={ns} aria-label={`Namespace ${ns}`}>
              <h2>{ns} <HealthBadge status={worst(h.map((e) => e.status))} /></h2>
              <p><a href={href(["applications"])}>{apps.size} applications</a> · <a href={href(["workloads"])}>{wl.length} workloads</a> · <a href={href(["services"])}>{services.size} services</a></p>
              <p className="muted" aria-label="Health">{line("app", "Applications")}<br />{line("service", "Services")}</p>
              <Traffic namespace={ns} />
              <a href={href(["graph"], { namespaces: ns })}>Open the graph</a>
            </article>
          );
        })}
      </div>
    </section>
  );
}
