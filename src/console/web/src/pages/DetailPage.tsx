// One application, workload or service: health, instances with their proxies' sync status, inbound and outbound
// charts, traces, each proxy's Envoy config, and (for services) the wizards.
import { useState } from "react";
import { api, type EntityMetrics, type HealthEntry, type ProxyStatus, type TraceSummary } from "../api";
import { usePoll, href, setParams } from "../router";
import { HealthBadge, pct } from "../components/Health";
import { MetricsCharts } from "../components/Charts";
import { entitiesOf, healthKind } from "./ListPage";
import { Wizard, WIZARDS } from "./Wizard";

type Section = "applications" | "workloads" | "services";

export function DetailPage({ section, namespace, name, params }: { section: Section; namespace: string; name: string; params: URLSearchParams }) {
  const tab = params.get("tab") ?? "overview";
  const proxies = usePoll(() => api.get<ProxyStatus[]>("/debug/proxies"), [], 10_000);
  const health = usePoll(() => api.get<HealthEntry[]>("/api/v1/telemetry/health?window=5m"), [], 15_000);
  const entity = entitiesOf(section, proxies.data ?? []).find((e) => e.namespace === namespace && e.name === name);
  const h = health.data?.find((e) => e.kind === healthKind(section) && e.namespace === namespace && e.name === name);
  const tabs: Array<[string, string]> = [["overview", "Overview"], ["inbound", "Inbound metrics"], ["outbound", "Outbound metrics"], ["traces", "Traces"], ["config", "Envoy config"], ...(section === "services" ? [["wizards", "Actions"] as [string, string]] : [])];
  return (
    <section>
      <p><a href={href([section])}>{section[0].toUpperCase() + section.slice(1)}</a> / {namespace}</p>
      <h1>{name} <HealthBadge status={h?.status ?? "NA"} /></h1>
      <div role="tablist" className="tabs">
        {tabs.map(([id, label]) => <button key={id} role="tab" aria-selected={tab === id} onClick={() => setParams({ tab: id })}>{label}</button>)}
      </div>
      {proxies.error && <p role="alert" className="error">{proxies.error}</p>}
      {!entity && proxies.data && <p className="empty">No instance of {name} is connected now.</p>}
      {tab === "overview" && entity && (
        <div>
          <p>{h ? `${h.requestRate.toFixed(2)} req/s inbound, ${pct(h.errorRatio)} errors (last 5 min)` : "No inbound traffic in the last 5 minutes."}</p>
          <h2>Instances</h2>
          <table aria-label="Instances">
            <thead><tr><th>Proxy</th><th>Workload</th><th>Labels</th><th>Identity</th><th>Ready</th><th>xDS sync</th></tr></thead>
            <tbody>{entity.instances.map((p) => (
              <tr key={p.node.id}>
                <td>{p.node.id}</td><td>{p.workload?.name}</td>
                <td>{Object.entries(p.workload?.labels ?? {}).map(([k, v]) => <span className="label" key={k}>{k}={v}</span>)}</td>
                <td>{p.workload?.mtls ? `spiffe://cluster.local/ns/${p.workload.namespace}/sa/${p.workload.serviceAccount}` : "no certificate (plaintext)"}</td>
                <td>{p.workload?.ready ? "yes" : "no"}</td>
                <td>{p.types.map((t) => <span key={t.typeUrl} className={`sync ${t.state.replace(" ", "-").toLowerCase()}`} title={t.nackError ?? t.sentVersion ?? ""}>{t.typeUrl.split(".").pop()!.replace("ClusterLoadAssignment", "Endpoints")}: {t.state}</span>)}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      {(tab === "inbound" || tab === "outbound") && <Metrics kind={healthKind(section)} namespace={namespace} name={name} direction={tab} window={params.get("window") ?? "10m"} />}
      {tab === "traces" && <Traces service={`${section === "workloads" ? (entity?.instances[0]?.workload?.labels.app ?? name) : name}.${namespace}`} />}
      {tab === "config" && entity && <EnvoyConfig instances={entity.instances} />}
      {tab === "wizards" && entity && (
        <div>
          <p>Each action writes a VirtualService and a DestinationRule for {name}, visible and editable under Istio Config.</p>
          <div className="tabs">{WIZARDS.map(([id, label]) => <button key={id} aria-pressed={params.get("wizard") === id} onClick={() => setParams({ wizard: id })}>{label}</button>)}</div>
          {params.get("wizard") && <Wizard type={params.get("wizard")!} service={name} namespace={namespace} versions={[...new Set(entity.instances.map((p) => p.workload?.labels.version ?? "").filter(Boolean))].sort()} />}
        </div>
      )}
    </section>
  );
}

function Metrics(p: { kind: string; namespace: string; name: string; direction: string; window: string }) {
  const { data, error } = usePoll(() => api.get<EntityMetrics>(`/api/v1/telemetry/metrics?kind=${p.kind}&namespace=${p.namespace}&name=${encodeURIComponent(p.name)}&direction=${p.direction}&window=${p.window}`), [p.kind, p.namespace, p.name, p.direction, p.window], 15_000);
  return (
    <div>
      <label>Window <select value={p.window} onChange={(e) => setParams({ window: e.target.value })}>{["5m", "10m", "30m", "1h"].map((w) => <option key={w}>{w}</option>)}</select></label>
      {error && <p role="alert" className="error">{error}</p>}
      {data && <MetricsCharts m={data} />}
    </div>
  );
}

function Traces({ service }: { service: string }) {
  const { data, error } = usePoll(() => api.get<TraceSummary[]>(`/api/v1/traces?service=${encodeURIComponent(service)}&limit=20`), [service], 10_000);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data?.length) return <p className="empty">No traces of {service} in the store. Sampled requests appear here within seconds.</p>;
  return (
    <table aria-label="Traces">
      <thead><tr><th>Trace</th><th>Started</th><th>Duration</th><th>Spans</th><th>Errors</th></tr></thead>
      <tbody>{data.map((t) => (
        <tr key={t.traceId}><td><a href={href(["traces", t.traceId])}>{t.rootService}: {t.rootOperation}</a></td><td>{new Date(t.startTime).toLocaleTimeString()}</td><td>{t.durationMs.toFixed(2)} ms</td><td>{t.spanCount}</td><td>{t.errors}</td></tr>
      ))}</tbody>
    </table>
  );
}

const SECTIONS: Array<[string, string]> = [["dynamic_listeners", "Listeners"], ["dynamic_active_clusters", "Clusters"], ["dynamic_route_configs", "Routes"], ["dynamic_active_secrets", "Secrets"]];

function EnvoyConfig({ instances }: { instances: ProxyStatus[] }) {
  const [proxy, setProxy] = useState(instances[0]?.node.id ?? "");
  const [section, setSection] = useState("dynamic_listeners");
  const { data, error } = usePoll(() => api.get<unknown>(`/api/v1/proxies/${encodeURIComponent(proxy)}/config_dump?resource=${section}`), [proxy, section]);
  return (
    <div>
      <label>Proxy <select value={proxy} onChange={(e) => setProxy(e.target.value)}>{instances.map((p) => <option key={p.node.id}>{p.node.id}</option>)}</select></label>
      <div className="tabs">{SECTIONS.map(([id, label]) => <button key={id} aria-pressed={section === id} onClick={() => setSection(id)}>{label}</button>)}</div>
      {error && <p role="alert" className="error">{error}</p>}
      <pre className="code" aria-label="Envoy config">{data ? JSON.stringify(data, null, 2) : "Loading…"}</pre>
    </div>
  );
}
