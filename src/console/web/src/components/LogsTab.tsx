// A workload's logs: the app's and the sidecar's output as `trellis run` keeps it, per instance, filtered by
// container and text, refreshed every few seconds.
import { useState } from "react";
import { api, type ProxyStatus } from "../api";
import { usePoll } from "../router";
import { matchesText } from "./table-sort";

interface Logs { proxy: string; lines: Array<{ time: string; container: string; text: string }> }

export function LogsTab({ instances }: { instances: ProxyStatus[] }) {
  const [proxy, setProxy] = useState(instances[0]?.node.id ?? "");
  const [container, setContainer] = useState("");
  const [filter, setFilter] = useState("");
  const { data, error } = usePoll(() => api.get<Logs>(`/api/v1/proxies/${encodeURIComponent(proxy)}/logs?tail=1000${container ? `&container=${container}` : ""}`), [proxy, container], 5_000);
  const lines = (data?.lines ?? []).filter((l) => matchesText(filter, l.text));
  return (
    <div>
      <div className="toolbar">
        <label>Instance <select value={proxy} onChange={(e) => setProxy(e.target.value)}>{instances.map((p) => <option key={p.node.id}>{p.node.id}</option>)}</select></label>
        <label>Container <select aria-label="Container" value={container} onChange={(e) => setContainer(e.target.value)}><option value="">app and sidecar</option><option value="app">app</option><option value="sidecar">sidecar</option></select></label>
        <label>Filter <input aria-label="Filter logs" value={filter} onChange={(e) => setFilter(e.target.value)} size={24} /></label>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {data && lines.length === 0 && <p className="empty">No log line{filter ? " matches the filter" : " yet"}.</p>}
      {lines.length > 0 && (
        <pre className="code logs" aria-label="Logs">{lines.map((l, i) => <div key={i} className={`log-${l.container}`}><span className="muted">{l.time.slice(11, 23)} {l.container.padEnd(7)}</span> {l.text}</div>)}</pre>
      )}
    </div>
  );
}
