// Applications, Workloads and Services: lists with health, labels and the validation of config that names them.
import { api, type Finding, type HealthEntry, type ProxyStatus } from "../api";
import { usePoll, href } from "../router";
import { HealthBadge, pct } from "../components/Health";

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
  const rows = entitiesOf(section, proxies.data ?? []);
  const title = section[0].toUpperCase() + section.slice(1);
  return (
    <section>
      <h1>{title}</h1>
      {proxies.error && <p role="alert" className="error">{proxies.error}</p>}
      <table aria-label={title}>
        <thead><tr><th>Name</th><th>Namespace</th><th>Health</th><th>Requests/s</th><th>Errors</th><th>Labels</th><th>Instances</th><th>Config</th></tr></thead>
        <tbody>
          {rows.map((r) => {
            const h = health.data?.find((e) => e.kind === healthKind(section) && e.namespace === r.namespace && e.name === r.name);
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
                <td>{findings.length === 0 ? <span className="ok">✓ valid</span> : <span className="warn" title={findings.map((f) => f.message).join("\n")}>{findings.length} issue{findings.length > 1 ? "s" : ""}</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {rows.length === 0 && !proxies.error && <p className="empty">Nothing here yet.</p>}
    </section>
  );
}
