// A proxy's Envoy config as tables with a filter, as Kiali's Envoy tabs: listeners, routes, clusters, endpoints, and
// secrets with their expiry in hours, read from the proxy's admin config_dump and /certs through the REST API.
import { useState } from "react";
import { api, type ProxyStatus } from "../api";
import { usePoll } from "../router";
import { matchesText } from "./table-sort";

// config_dump JSON is read field by field with optional chaining and every field may be missing: typing each of
// Envoy's messages here would repeat the generated types the browser bundle cannot import.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
type Table = { columns: string[]; rows: string[][] };

const addr = (a: Obj | undefined) => (a?.socket_address ? `${a.socket_address.address}:${a.socket_address.port_value}` : a?.pipe?.path ?? "–");

function matchText(m: Obj): string {
  const path = m.prefix !== undefined ? `prefix ${m.prefix}` : m.path !== undefined ? `path ${m.path}` : m.safe_regex ? `regex ${m.safe_regex.regex}` : m.path_separated_prefix ? `prefix ${m.path_separated_prefix}` : "any";
  const headers = (m.headers ?? []).map((h: Obj) => `${h.name}${h.string_match?.exact !== undefined ? `=${h.string_match.exact}` : h.exact_match !== undefined ? `=${h.exact_match}` : ""}`);
  return [path, ...headers].join(", ");
}

function actionText(r: Obj): string {
  if (r.route?.cluster) return r.route.cluster;
  if (r.route?.weighted_clusters) return r.route.weighted_clusters.clusters.map((c: Obj) => `${c.name} (${c.weight?.value ?? c.weight})`).join(", ");
  if (r.route?.cluster_header) return `cluster from header ${r.route.cluster_header}`;
  if (r.redirect) return `redirect ${r.redirect.host_redirect ?? ""}${r.redirect.path_redirect ?? ""}`;
  if (r.direct_response) return `direct response ${r.direct_response.status}`;
  return "–";
}

const TABLES: Record<string, { label: string; resource?: string; build: (d: Obj) => Table }> = {
  listeners: {
    label: "Listeners", resource: "dynamic_listeners",
    build: (d) => ({ columns: ["Name", "Address", "Filter chains", "Filters", "Version"], rows: (d.configs ?? []).map((l: Obj) => {
      const x = l.active_state?.listener ?? {};
      const chains: Obj[] = x.filter_chains ?? [];
      return [l.name, addr(x.address), String(chains.length), [...new Set(chains.flatMap((c) => (c.filters ?? []).map((f: Obj) => f.name)))].join(", "), l.version_info ?? "–"];
    }) }),
  },
  routes: {
    label: "Routes", resource: "dynamic_route_configs",
    build: (d) => ({ columns: ["Route config", "Virtual host", "Domains", "Match", "To", "Timeout"], rows: (d.configs ?? []).flatMap((c: Obj) => (c.route_config?.virtual_hosts ?? []).flatMap((vh: Obj) => (vh.routes ?? []).map((r: Obj) => [c.route_config.name, vh.name, (vh.domains ?? []).join(", "), matchText(r.match ?? {}), actionText(r), r.route?.timeout ?? "–"]))) }),
  },
  clusters: {
    label: "Clusters", resource: "dynamic_active_clusters",
    build: (d) => ({ columns: ["Name", "Service (FQDN)", "Port", "Subset", "Type", "LB", "TLS"], rows: (d.configs ?? []).map((c: Obj) => {
      const x = c.cluster ?? {};
      const [, port, subset, fqdn] = String(x.name).split("|");
      return [x.name, fqdn || "–", port || "–", subset || "–", x.type ?? "EDS", x.lb_policy ?? "ROUND_ROBIN", x.transport_socket || x.transport_socket_matches?.length ? "yes" : "no"];
    }) }),
  },
  endpoints: {
    label: "Endpoints", resource: "dynamic_endpoint_configs",
    build: (d) => ({ columns: ["Cluster", "Endpoint", "Health", "Workload", "Weight"], rows: (d.configs ?? []).flatMap((c: Obj) => (c.endpoint_config?.endpoints ?? []).flatMap((g: Obj) => (g.lb_endpoints ?? []).map((e: Obj) => [
      c.endpoint_config.cluster_name, addr(e.endpoint?.address), e.health_status ?? "UNKNOWN", String(e.metadata?.filter_metadata?.istio?.fields?.workload?.stringValue ?? "–").split(";")[0] || "–", String(e.load_balancing_weight ?? g.load_balancing_weight ?? 1),
    ]))) }),
  },
  secrets: {
    label: "Secrets",
    build: (d) => ({ columns: ["Name", "Identity", "Source", "Valid from", "Expires", "Expires in", "CA"], rows: (d.certificates ?? []).map((c: Obj) => {
      const hours = (new Date(c.expiration_time).getTime() - Date.now()) / 3_600_000;
      return [c.name, (c.uri_sans ?? []).join(", ") || "–", c.source ?? "–", new Date(c.valid_from).toLocaleString(), new Date(c.expiration_time).toLocaleString(), hours < 48 ? `${hours.toFixed(1)} h` : `${Math.round(hours / 24)} days`, c.ca ? "yes" : "no"];
    }) }),
  },
};

export function EnvoyTables({ instances }: { instances: ProxyStatus[] }) {
  const [proxy, setProxy] = useState(instances[0]?.node.id ?? "");
  const [tab, setTab] = useState("listeners");
  const [filter, setFilter] = useState("");
  const t = TABLES[tab];
  const { data, error } = usePoll(() => api.get<Obj>(t.resource ? `/api/v1/proxies/${encodeURIComponent(proxy)}/config_dump?resource=${t.resource}` : `/api/v1/proxies/${encodeURIComponent(proxy)}/certs`), [proxy, tab]);
  const table = data ? t.build(data) : undefined;
  const rows = (table?.rows ?? []).filter((r) => matchesText(filter, ...r));
  return (
    <div>
      <div className="toolbar">
        <label>Proxy <select value={proxy} onChange={(e) => setProxy(e.target.value)}>{instances.map((p) => <option key={p.node.id}>{p.node.id}</option>)}</select></label>
        <label>Filter <input value={filter} onChange={(e) => setFilter(e.target.value)} size={24} aria-label="Filter Envoy config" /></label>
      </div>
      <div className="tabs" role="tablist" aria-label="Envoy config">{Object.entries(TABLES).map(([id, x]) => <button key={id} role="tab" aria-selected={tab === id} onClick={() => { setTab(id); setFilter(""); }}>{x.label}</button>)}</div>
      {error && <p role="alert" className="error">{error}</p>}
      {!table && !error && <p className="muted">Loading…</p>}
      {table && (
        <table aria-label={`Envoy ${t.label}`} className="envoy">
          <thead><tr>{table.columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
          <tbody>{rows.map((r, i) => <tr key={i}>{r.map((v, j) => <td key={j}>{v}</td>)}</tr>)}</tbody>
        </table>
      )}
      {table && <p className="muted">{rows.length} of {table.rows.length} shown.</p>}
    </div>
  );
}

/** What each sync state means, as shown beside a proxy's xDS status. */
export const SYNC_STATES: Record<string, string> = {
  SYNCED: "The proxy acknowledged (ACK) the latest version the control plane sent of this type.",
  "NOT SENT": "The control plane has sent nothing of this type to this proxy: it asked for none, or there is none for it (no routes without an HTTP listener).",
  STALE: "A newer version was sent and the proxy has not acknowledged it yet: in flight, or the proxy is slow or stuck.",
  NACKED: "The proxy rejected (NACK) the latest version and keeps serving the last one it accepted; the error says why.",
};

export function SyncLegend() {
  return (
    <dl className="sync-legend" aria-label="Sync states">
      {Object.entries(SYNC_STATES).map(([s, text]) => <div key={s}><dt className={`sync ${s.replace(" ", "-").toLowerCase()}`}>{s}</dt><dd>{text}</dd></div>)}
    </dl>
  );
}
