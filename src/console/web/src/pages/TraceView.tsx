// One trace as a waterfall: spans in parent/child order, each bar placed by its start and length within the trace,
// with its tags on demand.
import { useState } from "react";
import { api, type Span } from "../api";
import { usePoll } from "../router";
import { JaegerLink } from "./jaeger-link";

function ordered(spans: Span[]): Array<{ span: Span; depth: number }> {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, Span[]>();
  for (const s of spans) {
    const parent = ids.has(s.parentSpanId) ? s.parentSpanId : "";
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: Array<{ span: Span; depth: number }> = [];
  const walk = (parent: string, depth: number) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.startTime - b.startTime)) {
      out.push({ span: s, depth });
      walk(s.spanId, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

export function TraceView({ traceId }: { traceId: string }) {
  const { data, error } = usePoll(() => api.get<{ traceId: string; spans: Span[] }>(`/api/v1/traces/${traceId}`), [traceId]);
  const [open, setOpen] = useState<string>();
  if (error) return <section><h1>Trace {traceId}</h1><p role="alert" className="error">{error}</p></section>;
  if (!data) return <section><h1>Trace {traceId}</h1><p>Loading…</p></section>;
  const start = Math.min(...data.spans.map((s) => s.startTime));
  const end = Math.max(...data.spans.map((s) => s.startTime + s.durationMs));
  const total = Math.max(end - start, 0.001);
  return (
    <section>
      <h1>Trace {traceId}</h1>
      <p><JaegerLink traceId={traceId} /></p>
      <p>{data.spans.length} spans over {total.toFixed(2)} ms, {new Set(data.spans.map((s) => s.service)).size} services</p>
      <ol className="waterfall" aria-label="Spans">
        {ordered(data.spans).map(({ span, depth }) => (
          <li key={span.spanId}>
            <button className="span-row" aria-expanded={open === span.spanId} onClick={() => setOpen(open === span.spanId ? undefined : span.spanId)}>
              <span className="span-name" style={{ paddingLeft: depth * 14 }}>{span.service} <small>{span.kind}</small> {span.operation}</span>
              <span className="span-track"><span className={`span-bar ${span.status}`} style={{ left: `${((span.startTime - start) / total) * 100}%`, width: `${Math.max(0.5, (span.durationMs / total) * 100)}%` }} /></span>
              <span className="span-ms">{span.durationMs.toFixed(2)} ms</span>
            </button>
            {open === span.spanId && (
              <table className="tags" aria-label={`Tags of ${span.service} ${span.kind}`}><tbody>
                {Object.entries(span.tags).sort().map(([k, v]) => <tr key={k}><th>{k}</th><td>{String(v)}</td></tr>)}
              </tbody></table>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
