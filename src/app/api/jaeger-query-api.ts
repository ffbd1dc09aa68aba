// Jaeger's HTTP query API on the REST port, answered from the embedded trace store, so Grafana's Jaeger data source,
// Kiali and other Jaeger clients read Trellis' traces without a Jaeger: /api/services, /api/services/{s}/operations,
// /api/operations, /api/traces (service, operation, tags, lookback or start/end in µs, min/maxDuration, limit) and
// /api/traces/{id}. Parameters Jaeger takes are honoured or refused with a 400 naming them, never ignored.
import { parseGoDuration } from "../../api/formats.js";
import type { TraceQuery, TraceStore } from "../../telemetry/traces/trace-store.js";
import { envelope, jaegerTrace } from "../../telemetry/traces/jaeger-model.js";
import { send, type ApiRoute } from "../../control/api/rest-api.js";

const DEFAULT_LIMIT = 100;
const KNOWN = new Set(["service", "operation", "tags", "tag", "lookback", "start", "end", "minDuration", "maxDuration", "limit", "spanKind"]);

class QueryError extends Error {}

/** Jaeger's error shape: {data: null, errors: [{code, msg}]}. */
function fail(res: Parameters<ApiRoute>[1], code: number, msg: string): void {
  send(res, code, { data: null, total: 0, limit: 0, offset: 0, errors: [{ code, msg }] });
}

function duration(p: URLSearchParams, name: string): number | undefined {
  const v = p.get(name);
  if (v === null || v === "") return undefined;
  const ms = parseGoDuration(v);
  if (ms === undefined) throw new QueryError(`${name}: "${v}" is not a duration; write e.g. 100ms, 1.5s or 2m`);
  return ms;
}

function micros(p: URLSearchParams, name: string): number | undefined {
  const v = p.get(name);
  if (v === null || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new QueryError(`${name}: "${v}" is not a time; Jaeger's API takes Unix microseconds`);
  return Number(v) / 1000;
}

/** Tags as Jaeger takes them: tags={"k":"v"} (JSON, what the UI and Grafana send) and/or repeated tag=k:v. */
function tagsOf(p: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of p.getAll("tags")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new QueryError(`tags: ${JSON.stringify(raw)} is not JSON; write tags={"http.status_code":"500"}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new QueryError(`tags: must be a JSON object of tag: value`);
    for (const [k, v] of Object.entries(parsed)) out[k] = String(v);
  }
  for (const t of p.getAll("tag")) {
    const colon = t.indexOf(":");
    if (colon <= 0) throw new QueryError(`tag: "${t}" is not key:value; write tag=http.status_code:500`);
    out[t.slice(0, colon)] = t.slice(colon + 1);
  }
  return out;
}

export function jaegerQuery(p: URLSearchParams, now = Date.now()): TraceQuery {
  const unknown = [...new Set(p.keys())].filter((k) => !KNOWN.has(k));
  if (unknown.length) throw new QueryError(`${unknown.join(", ")}: not a parameter of /api/traces (${[...KNOWN].join(", ")} are)`);
  if (p.get("spanKind")) throw new QueryError("spanKind: filtering traces by span kind is not supported; leave it out");
  const service = p.get("service") || undefined;
  if (!service) throw new QueryError("service: required, as Jaeger requires it; list them at /api/services");
  const limit = p.get("limit");
  if (limit !== null && limit !== "" && !/^\d+$/.test(limit)) throw new QueryError(`limit: "${limit}" is not a number`);
  let start = micros(p, "start");
  const end = micros(p, "end");
  const lookback = p.get("lookback");
  // Jaeger's UI sends lookback=custom with start/end; otherwise lookback (1h, 2d...) sets start when start is absent.
  if (start === undefined && lookback && lookback !== "custom") {
    const m = /^(\d+)d$/.exec(lookback);
    const ms = m ? Number(m[1]) * 86_400_000 : parseGoDuration(lookback);
    if (ms === undefined) throw new QueryError(`lookback: "${lookback}" is not a duration; write e.g. 1h, 2d or custom (with start and end)`);
    start = (end ?? now) - ms;
  }
  return {
    service, operation: p.get("operation") || undefined, tags: tagsOf(p), start, end,
    minDurationMs: duration(p, "minDuration"), maxDurationMs: duration(p, "maxDuration"), durationOf: "span",
    // limit=0 means Jaeger's default.
    limit: limit && limit !== "0" ? Math.min(Number(limit), 1000) : DEFAULT_LIMIT,
  };
}

function segments(path: string): string[] | undefined {
  try {
    return path.split("/").slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

export function jaegerQueryApi(store: TraceStore): ApiRoute {
  return (req, res, url) => {
    if (url.pathname !== "/api/services" && url.pathname !== "/api/operations" && !url.pathname.startsWith("/api/services/") && url.pathname !== "/api/traces" && !url.pathname.startsWith("/api/traces/")) return false;
    if (req.method !== "GET") {
      fail(res, 405, "Jaeger's query API is read-only (GET)");
      return true;
    }
    const seg = segments(url.pathname);
    if (!seg) fail(res, 400, `${url.pathname} has a bad percent-escape`);
    else if (seg.length === 2 && seg[1] === "services") send(res, 200, envelope(store.services()));
    else if (seg.length === 4 && seg[1] === "services" && seg[3] === "operations") send(res, 200, envelope(store.operations(seg[2])));
    else if (seg.length === 2 && seg[1] === "operations") {
      const service = url.searchParams.get("service");
      if (!service) fail(res, 400, "service: required");
      else send(res, 200, envelope(store.operationKinds(service).map(({ operation, kind }) => ({ name: operation, spanKind: kind }))));
    } else if (seg.length === 2 && seg[1] === "traces") {
      try {
        const traces = store.search(jaegerQuery(url.searchParams)).flatMap((s) => {
          const t = store.get(s.traceId);
          return t ? [jaegerTrace(t.traceId, t.spans)] : [];
        });
        send(res, 200, envelope(traces));
      } catch (err) {
        if (!(err instanceof QueryError)) throw err;
        fail(res, 400, err.message);
      }
    } else if (seg.length === 3 && seg[1] === "traces") {
      const id = seg[2].toLowerCase();
      // Jaeger accepts short ids too (64-bit Zipkin ones): zero-padded to 128 bits, as they are stored.
      const t = /^[0-9a-f]{1,32}$/.test(id) ? store.get(id.padStart(32, "0")) : undefined;
      if (!/^[0-9a-f]{1,32}$/.test(id)) fail(res, 400, `${seg[2]} is not a trace id (hex, up to 32 digits)`);
      else if (!t) fail(res, 404, "trace not found");
      else send(res, 200, envelope([jaegerTrace(t.traceId, t.spans)]));
    } else fail(res, 404, `no Jaeger API at ${url.pathname}; use /api/services, /api/services/SERVICE/operations, /api/traces or /api/traces/ID`);
    return true;
  };
}
