// Trace search: service, operation, minimum duration, tags and time, a scatter plot of the results, and the list.
import { useState } from "react";
import { CartesianGrid, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis } from "recharts";
import { api, type TraceSummary } from "../api";
import { usePoll, href, setParams } from "../router";
import { JaegerLink } from "./jaeger-link";

const LOOKBACK: Array<[string, string]> = [["300000", "Last 5 min"], ["3600000", "Last hour"], ["21600000", "Last 6 hours"], ["0", "Any time"]];

export function TracesPage({ params }: { params: URLSearchParams }) {
  const q = { service: params.get("service") ?? "", operation: params.get("operation") ?? "", minDuration: params.get("minDuration") ?? "", tags: params.get("tags") ?? "", lookback: params.get("lookback") ?? "3600000", limit: params.get("limit") ?? "50" };
  const [draft, setDraft] = useState(q);
  const services = usePoll(() => api.get<string[]>("/api/v1/traces/services"), [], 15_000);
  const operations = usePoll(() => (draft.service ? api.get<string[]>(`/api/v1/traces/services/${encodeURIComponent(draft.service)}/operations`) : Promise.resolve([])), [draft.service]);
  const search = new URLSearchParams({ limit: q.limit });
  for (const k of ["service", "operation", "minDuration", "tags"] as const) if (q[k]) search.set(k, q[k]);
  if (q.lookback !== "0") search.set("start", String(Date.now() - Number(q.lookback)));
  const results = usePoll(() => api.get<TraceSummary[]>(`/api/v1/traces?${search}`), [search.toString().replace(/start=\d+/, "")]);
  return (
    <section>
      <h1>Traces</h1>
      <form className="toolbar" aria-label="Search traces" onSubmit={(e) => { e.preventDefault(); setParams(draft); }}>
        <label>Service <select value={draft.service} onChange={(e) => setDraft({ ...draft, service: e.target.value, operation: "" })}>
          <option value="">All</option>{(services.data ?? []).map((s) => <option key={s}>{s}</option>)}
        </select></label>
        <label>Operation <select value={draft.operation} onChange={(e) => setDraft({ ...draft, operation: e.target.value })}>
          <option value="">All</option>{(operations.data ?? []).map((s) => <option key={s}>{s}</option>)}
        </select></label>
        <label>Min duration <input value={draft.minDuration} placeholder="e.g. 100ms" onChange={(e) => setDraft({ ...draft, minDuration: e.target.value })} size={8} /></label>
        <label>Tags <input value={draft.tags} placeholder="http.status_code=500" onChange={(e) => setDraft({ ...draft, tags: e.target.value })} /></label>
        <label>Time <select value={draft.lookback} onChange={(e) => setDraft({ ...draft, lookback: e.target.value })}>{LOOKBACK.map(([v, l]) => <option key={v} value={v}>{l}</option>)}</select></label>
        <button type="submit">Find traces</button>
      </form>
      {results.error && <p role="alert" className="error">{results.error}</p>}
      {results.data && results.data.length === 0 && <p className="empty">No traces match.</p>}
      {results.data && results.data.length > 0 && (
        <>
          <figure className="chart" aria-label="Trace durations over time">
            <ResponsiveContainer width="100%" height={180}>
              <ScatterChart margin={{ left: 0, right: 8, top: 8, bottom: 0 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="startTime" type="number" domain={["auto", "auto"]} tickFormatter={(t) => new Date(t).toLocaleTimeString()} fontSize={11} />
                <YAxis dataKey="durationMs" unit="ms" fontSize={11} width={60} />
                <Tooltip formatter={(v) => Number(v).toFixed(2)} labelFormatter={() => ""} />
                <Scatter data={results.data} fill="#0066cc" onClick={(d) => { window.location.hash = href(["traces", (d as unknown as TraceSummary).traceId]); }} />
              </ScatterChart>
            </ResponsiveContainer>
          </figure>
          <table aria-label="Traces">
            <thead><tr><th>Trace</th><th>Services</th><th>Started</th><th>Duration</th><th>Spans</th><th>Errors</th></tr></thead>
            <tbody>{results.data.map((t) => (
              <tr key={t.traceId}><td><a href={href(["traces", t.traceId])}>{t.rootService}: {t.rootOperation}</a> <JaegerLink traceId={t.traceId} /></td><td>{t.services.join(", ")}</td><td>{new Date(t.startTime).toLocaleTimeString()}</td><td>{t.durationMs.toFixed(2)} ms</td><td>{t.spanCount}</td><td>{t.errors > 0 ? <span className="error">{t.errors}</span> : 0}</td></tr>
            ))}</tbody>
          </table>
        </>
      )}
    </section>
  );
}
