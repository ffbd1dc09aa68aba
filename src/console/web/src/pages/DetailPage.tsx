// One application, workload or service: health, a mini-graph of its neighbours, instances with their proxies' sync
// status (each state explained), its traffic per peer, inbound and outbound charts, traces, each proxy's Envoy config
// as tables, and (for services) the wizards.
import { api, type EntityMetrics, type HealthEntry, type ProxyStatus, type TraceSummary } from "../api";
import { usePoll, href, setParams } from "../router";
import { HealthBadge, pct } from "../components/Health";
import { MetricsCharts } from "../components/Charts";
import { entitiesOf, healthKind } from "./ListPage";
import { Wizard, WIZARDS } from "./Wizard";
import { EnvoyTables, SYNC_STATES, SyncLegend } from "../components/EnvoyTables";
import { MiniGraph } from "../components/MiniGraph";
import { TrafficTable } from "../components/TrafficTable";
import { LogsTab } from "../components/LogsTab";

type Section = "applications" | "workloads" | "services";

export function DetailPage({ section, namespace, name, params }: { section: Section; namespace: string; name: string; params: URLSearchParams }) {
  const tab = params.get("tab") ?? "overview";
  const proxies = usePoll(() => api.get<ProxyStatus[]>("/debug/proxies"), [], 10_000);
  const health = usePoll(() => api.get<HealthEntry[]>("/api/v1/telemetry/health?window=5m"), [], 15_000);
  const entity = entitiesOf(section, proxies.data ?? []).find((e) => e.namespace === namespace && e.name === name);
  const h = health.data?.find((e) => e.kind === healthKind(section) && e.namespace === namespace && e.name === name);
  const tabs: Array<[string, string]> = [["overview", "Overview"], ["traffic", "Traffic"], ["inbound", "Inbound metrics"], ["outbound", "Outbound metrics"], ["traces", "Traces"], ["config", "Envoy config"], ...(section === "workloads" ? [["logs", "Logs"] as [string, string]] : []), ...(section === "services" ? [["wizards", "Actions"] as [string, string]] : [])];
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
          <p>{h ? `${h.inbound.requestRate.toFixed(2)} req/s inbound, ${pct(h.inbound.errorRatio)} errors${h.outbound ? `; ${h.outbound.requestRate.toFixed(2)} req/s outbound, ${pct(h.outbound.errorRatio)} errors` : ""} (last 5 min, as the callers' sidecars saw it)` : "No traffic in the last 5 minutes."}</p>
          <MiniGraph kind={healthKind(section)} namespace={namespace} name={name} />
          <h2>Instances</h2>
          <table aria-label="Instances">
            <thead><tr><th>Proxy</th><th>Workload</th><th>Labels</th><th>Identity</th><th>Ready</th><th>xDS sync</th></tr></thead>
            <tbody>{entity.instances.map((p) => (
              <tr key={p.node.id}>
                <td>{p.node.id}</td><td>{p.workload?.name}</td>
                <td>{Object.entries(p.workload?.labels ?? {}).map(([k, v]) => <span className="label" key={k}>{k}={v}</span>)}</td>
                <td>{p.workload?.mtls ? `spiffe://cluster.local/ns/${p.workload.namespace}/sa/${p.workload.serviceAccount}` : "no certificate (plaintext)"}</td>
                <td>{p.workload?.ready ? "yes" : "no"}</td>
                <td>{p.types.map((t) => <span key={t.typeUrl} className={`sync ${t.state.replace(" ", "-").toLowerCase()}`} title={`${SYNC_STATES[t.state]}${t.nackError ? `\n${t.nackError}` : ""}`}>{t.typeUrl.split(".").pop()!.replace("ClusterLoadAssignment", "Endpoints")}: {t.state}</span>)}</td>
              </tr>
            ))}</tbody>
          </table>
          {entity.instances.flatMap((p) => p.types.filter((t) => t.nackError).map((t) => <p key={p.node.id + t.typeUrl} role="alert" className="error">{p.node.id} rejected {t.typeUrl.split(".").pop()}: {t.nackError}</p>))}
          <SyncLegend />
        </div>
      )}
      {tab === "traffic" && <TrafficTable kind={healthKind(section)} namespace={namespace} name={name} />}
      {(tab === "inbound" || tab === "outbound") && <Metrics kind={healthKind(section)} namespace={namespace} name={name} direction={tab} window={params.get("window") ?? "10m"} />}
      {tab === "traces" && <Traces service={`${section === "workloads" ? (entity?.instances[0]?.workload?.labels.app ?? name) : name}.${namespace}`} />}
      {tab === "config" && entity && <EnvoyTables instances={entity.instances} />}
      {tab === "logs" && entity && <LogsTab instances={entity.instances} />}
      {tab === "wizards" && entity && (
        <div>
          <p>Each action opens on {name}'s routing as it is and changes only its own part of the VirtualService (routes, fault, timeouts) or the DestinationRule (circuit breaker), visible and editable under Istio Config.</p>
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
