// The trace search API on the REST port (/api/v1/traces...), as docs/telemetry-api.md describes, over the trace store;
// /api/v1/traces/settings tells the console where Jaeger's UI is (--jaeger-url), for its trace links.
import { parseGoDuration } from "../../api/formats.js";
import type { TraceQuery, TraceStore } from "../../telemetry/traces/trace-store.js";
import { send, status, type ApiRoute } from "../../control/api/rest-api.js";

function durationParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  const ms = parseGoDuration(v);
  if (ms === undefined) throw new Error(`${name}: "${v}" is not a duration; write e.g. 100ms, 1.5s or 2m`);
  return ms;
}

function timeParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: "${v}" is not a time; give Unix milliseconds`);
  return n;
}

function queryOf(url: URL): TraceQuery {
  const p = url.searchParams;
  const tags: Record<string, string> = {};
  for (const t of p.getAll("tags").flatMap((x) => x.split(/[ ,]+/)).filter(Boolean)) {
    const eq = t.indexOf("=");
    if (eq <= 0) throw new Error(`tags: "${t}" is not key=value; write e.g. tags=http.status_code=500`);
    tags[t.slice(0, eq)] = t.slice(eq + 1);
  }
  const limit = p.get("limit");
  if (limit !== null && !/^[1-9]\d*$/.test(limit)) throw new Error(`limit: "${limit}" is not a positive integer`);
  return {
    service: p.get("service") || undefined, operation: p.get("operation") || undefined,
    minDurationMs: durationParam(url, "minDuration"), maxDurationMs: durationParam(url, "maxDuration"),
    start: timeParam(url, "start"), end: timeParam(url, "end"), tags, limit: limit ? Number(limit) : undefined,
  };
}

/** jaegerUrl: --jaeger-url, where the console's trace links open (Jaeger's UI). */
export function traceApi(store: TraceStore, settings: { jaegerUrl?: string } = {}): ApiRoute {
  return (req, res, url) => {
    const path = url.pathname;
    if (path !== "/api/v1/traces" && !path.startsWith("/api/v1/traces/")) return false;
    if (req.method !== "GET") {
      status(res, 405, "MethodNotAllowed", "the trace API is read-only; spans arrive over OTLP at POST /v1/traces on the OTLP port");
      return true;
    }
    if (path === "/api/v1/traces") {
      try {
        send(res, 200, store.search(queryOf(url)));
      } catch (err) {
        status(res, 400, "BadRequest", (err as Error).message);
      }
      return true;
    }
    let rest: string[];
    try {
      rest = path.slice("/api/v1/traces/".length).split("/").map(decodeURIComponent);
    } catch {
      status(res, 400, "BadRequest", `${path} has a bad percent-escape`);
      return true;
    }
    if (rest[0] === "stats" && rest.length === 1) send(res, 200, store.stats());
    else if (rest[0] === "settings" && rest.length === 1) send(res, 200, { jaegerUrl: settings.jaegerUrl ?? null });
    else if (rest[0] === "services" && rest.length === 1) send(res, 200, store.services());
    else if (rest[0] === "services" && rest.length === 3 && rest[2] === "operations") send(res, 200, store.operations(rest[1]));
    else if (rest.length === 1 && /^[0-9a-fA-F]{32}$/.test(rest[0])) {
      const trace = store.get(rest[0]);
      if (trace) send(res, 200, trace);
      else status(res, 404, "NotFound", `trace ${rest[0]} is not in the store (it may have been evicted, or not sampled)`);
    } else status(res, 404, "NotFound", `no trace API at ${path}; use /api/v1/traces, /api/v1/traces/ID (32 hex digits) or /api/v1/traces/services`);
    return true;
  };
}
