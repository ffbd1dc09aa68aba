// Applications, Workloads and Services: lists with health, labels and the validation of config that names them.
import { api, type Finding, type HealthEntry, type ProxyStatus } from "../api";
import { usePoll, href } from "../router";
import { useState } from "react";
import { HealthBadge, pct } from "../components/Health";
import { matchesText, useSort } from "../components/table-sort";
import { SeverityLabel } from "../components/Findings";

const HEALTH_RANK = { Failure: 0, Degraded: 1, Healthy: 2, NA: 3 };

type Section = "applications" | "workloads" | "services";

export interface Entity { namespace: string; name: string; labels: Record<string, string>; instances: ProxyStatus[] }

export function entitiesOf(section: Section, proxies: ProxyStatus[]): Entity[] {
  const out = new Map<string, Entity>();
  for (const p of proxies) {
    const w = p.workload;
    if (!w) continue;
    const name = section === "workloads" ? w.name : section === "applications" ? w.labels.app : w.service;
    if (!name) continue;
    const key = `${w.namespace}/${name}`;
    const e = out.get(key) ?? { namespace: w.namespace, name, labels: section === "workloads" ? w.labels : { app: w.labels.app ?? name }, instances: [] };
    e.instances.push(p);
    out.set(key, e);
  }
  return [...out.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

export const healthKind = (s: Section) => (s === "applications" ? "app" : s === "workloads" ? "workload" : "service");

export function ListPage({ section }: { section: Section }) {
  const proxies = usePoll(() => api.get<ProxyStatus[]>("/debug/proxies"), [], 10_000);
  const health = usePoll(() => api.get<HealthEntry[]>("/api/v1/telemetry/health?window=5m"), [], 15_000);
  const validations = usePoll(() => api.get<Finding[]>("/api/v1/validations"), [], 15_000);
  const [text, setText] = useState("");
  const [healthFilter, setHealthFilter] = useState("");
  const title = section[0].toUpperCase() + section.slice(1);
  const healthOf = (r: Entity) => health.data?.find((e) => e.kind === healthKind(section) && e.namespace === r.namespace && e.name === r.name);
  const all = entitiesOf(section, proxies.data ?? []);
  const filtered = all.filter((r) => matchesText(text, r.name, r.namespace, ...Object.entries(r.labels).map(([k, v]) => `${k}=${v}`)) && (!healthFilter || (healthOf(r)?.status ?? "NA") === healthFilter));
  const { sorted: rows, header } = useSort(filtered, { name: (r) => r.name, namespace: (r) => r.namespace, health: (r) => HEALTH_RANK[healthOf(r)?.status ?? "NA"], rps: (r) => healthOf(r)?.requestRate ?? 0, errors: (r) => healthOf(r)?.errorRatio ?? 0 }, "name");
  return (
    <section>
      <h1>{title}</h1>
      {proxies.error && <p role="alert" className="error">{proxies.error}</p>}
      <div className="toolbar" role="toolbar" aria-label="Filters">
        <label>Filter <input value={text} onChange={(e) => setText(e.target.value)} placeholder="name, namespace or label" size={24} /></label>
        <label>Health <select value={healthFilter} onChange={(e) => setHealthFilter(e.target.value)}><option value="">Any</option><option value="Failure">Failure</option><option value="Degraded">Degraded</option><option value="Healthy">Healthy</option><option value="NA">No traffic</option></select></label>
      </div>
      <table aria-label={title}>
        <thead><tr>{header("name", "Name")}{header("namespace", "Namespace")}{header("health", "Health")}{header("rps", "Requests/s")}{header("errors", "Errors")}<th>Labels</th><th>Instances</th><th>Config</th></tr></thead>
        <tbody>
          {rows.map((r) => {
            const h = healthOf(r);
            const findings = (validations.data ?? []).filter((f) => f.resource?.namespace === r.namespace && JSON.stringify(f).includes(r.name));
            return (
              <tr key={`${r.namespace}/${r.name}`}>
                <td><a href={href([section, r.namespace, r.name])}>{r.name}</a></td>
                <td>{r.namespace}</td>
                <td><HealthBadge status={h?.status ?? "NA"} /></td>
                <td>{h ? h.requestRate.toFixed(2) : "–"}</td>
                <td>{h ? pct(h.errorRatio) : "–"}</td>
                <td>{Object.entries(r.labels).map(([k, v]) => <span className="label" key={k}>{k}={v}</span>)}</td>
                <td>{r.instances.length}</td>
                <td><SeverityLabel findings={findings} /></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {all.length === 0 && !proxies.error && <p className="empty">Nothing here yet.</p>}
      {all.length > 0 && rows.length === 0 && <p className="empty">Nothing matches these filters.</p>}
    </section>
  );
}
