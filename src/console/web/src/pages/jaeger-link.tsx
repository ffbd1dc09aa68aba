// "Open in Jaeger" beside a trace, when the control plane runs with --jaeger-url: the same trace id in Jaeger's UI
// (/trace/ID). Asked once per page load; nothing is shown without a Jaeger URL.
import { api } from "../api";
import { usePoll } from "../router";

let settings: Promise<{ jaegerUrl: string | null }> | undefined;

function traceSettings(): Promise<{ jaegerUrl: string | null }> {
  settings ??= api.get<{ jaegerUrl: string | null }>("/api/v1/traces/settings").catch(() => ({ jaegerUrl: null }));
  return settings;
}

export function JaegerLink({ traceId }: { traceId: string }) {
  const { data } = usePoll(traceSettings, []);
  if (!data?.jaegerUrl) return null;
  return <a className="jaeger-link" href={`${data.jaegerUrl.replace(/\/+$/, "")}/trace/${traceId}`} target="_blank" rel="noreferrer">Open in Jaeger</a>;
}
