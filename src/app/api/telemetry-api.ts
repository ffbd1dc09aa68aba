// The telemetry API on the REST port (docs/telemetry-api.md): Prometheus' query API over the embedded store, and
// the graph, entity metrics and health that the console draws, from whichever backend is configured.
import { parseGoDuration } from "../../api/formats.js";
import { PromQLError } from "../../telemetry/metrics/promql-parse.js";
import { instantQuery, rangeQuery } from "../../telemetry/metrics/promql-eval.js";
import { buildGraph, type GraphType } from "../../telemetry/metrics/mesh-graph.js";
import { entityMetrics, type Direction, type EntityKind } from "../../telemetry/metrics/entity-metrics.js";
import { meshHealth } from "../../telemetry/metrics/health.js";
import type { CompiledHealthConfig } from "../../telemetry/metrics/health-config.js";
import { EdgeIdError, edgeMetrics } from "../../telemetry/metrics/edge-metrics.js";
import type { QueryBackend } from "../../telemetry/metrics/query-backend.js";
import type { SeriesStore } from "../../telemetry/metrics/series-store.js";
import { send, status, type ApiRoute } from "../../control/api/rest-api.js";

class ParamError extends Error {}

function windowParam(url: URL, name: string, fallback: string, maxMs = 3_600_000): { text: string; ms: number } {
  const text = url.searchParams.get(name) || fallback;
  const ms = parseGoDuration(text);
  if (ms === undefined || ms <= 0) throw new ParamError(`${name}: "${text}" is not a duration; write e.g. 60s, 5m or 1h`);
  if (ms > maxMs) throw new ParamError(`${name}: "${text}" is longer than the store keeps (${maxMs / 60_000} m)`);
  return { text: `${Math.round(ms / 1000)}s`, ms };
}

function timeParam(url: URL, name: string, fallbackMs: number): number {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return fallbackMs;
  const n = Number(v);
  if (Number.isFinite(n)) return n * 1000;
  const d = Date.parse(v);
  if (Number.isNaN(d)) throw new ParamError(`${name}: "${v}" is not a time; give Unix seconds or RFC 3339`);
  return d;
}

function oneOf<T extends string>(url: URL, name: string, allowed: readonly T[], fallback?: T): T {
  const v = url.searchParams.get(name) ?? fallback;
  if (!v || !allowed.includes(v as T)) throw new ParamError(`${name}: ${v === undefined || v === null ? "required" : `"${v}" is not allowed`}; use one of ${allowed.join(", ")}`);
  return v as T;
}

function required(url: URL, name: string): string {
  const v = url.searchParams.get(name);
  if (!v) throw new ParamError(`${name}: required`);
  return v;
}

const namespaces = (url: URL) => (url.searchParams.get("namespaces") ?? "").split(",").map((s) => s.trim()).filter(Boolean);

/** Prometheus' HTTP API shape, so Grafana or Kiali can point at the embedded store. */
function promApi(store: SeriesStore, url: URL): unknown {
  const query = required(url, "query");
  if (url.pathname === "/api/v1/query") {
    const t = timeParam(url, "time", Date.now());
    const r = instantQuery(store, query, t);
    if (r.resultType === "scalar") return { status: "success", data: { resultType: "scalar", result: [t / 1000, String(r.value)] } };
    return { status: "success", data: { resultType: "vector", result: r.result.map((s) => ({ metric: s.labels, value: [t / 1000, String(s.value)] })) } };
  }
  const end = timeParam(url, "end", Date.now());
  const start = timeParam(url, "start", end - 3_600_000);
  const stepText = required(url, "step");
  const stepMs = /^\d+(\.\d+)?$/.test(stepText) ? Number(stepText) * 1000 : parseGoDuration(stepText);
  if (!stepMs || stepMs <= 0) throw new ParamError(`step: "${stepText}" is not a duration; give seconds or e.g. 15s`);
  const series = rangeQuery(store, query, start, end, stepMs);
  return { status: "success", data: { resultType: "matrix", result: series.map((s) => ({ metric: s.labels, values: s.points.map(([t, v]) => [t / 1000, String(v)]) })) } };
}

export function telemetryApi(store: SeriesStore, backend: () => QueryBackend, retentionMs: number, healthConfig?: CompiledHealthConfig): ApiRoute {
  return async (req, res, url) => {
    const path = url.pathname;
    const prom = path === "/api/v1/query" || path === "/api/v1/query_range";
    if (!prom && !path.startsWith("/api/v1/telemetry/")) return false;
    if (req.method !== "GET") {
      status(res, 405, "MethodNotAllowed", "the telemetry API is read-only (GET)");
      return true;
    }
    try {
      if (prom) {
        send(res, 200, promApi(store, url));
        return true;
      }
      const now = timeParam(url, "end", Date.now());
      switch (path) {
        case "/api/v1/telemetry/graph": {
          const w = windowParam(url, "window", "5m", retentionMs);
          const graphType = oneOf(url, "graphType", ["app", "versionedApp", "workload", "service"] as GraphType[], "versionedApp");
          const idleEdges = oneOf(url, "idleEdges", ["true", "false"], "false") === "true";
          send(res, 200, await buildGraph(backend(), { windowMs: w.ms, window: w.text, graphType, namespaces: namespaces(url), now, idleEdges }));
          return true;
        }
        case "/api/v1/telemetry/metrics": {
          const w = windowParam(url, "window", "5m", retentionMs);
          const stepMs = url.searchParams.get("step") ? windowParam(url, "step", "10s").ms : Math.max(5000, Math.round(w.ms / 30));
          const m = await entityMetrics(backend(), {
            kind: oneOf(url, "kind", ["service", "workload", "app"] as EntityKind[]), direction: oneOf(url, "direction", ["inbound", "outbound"] as Direction[], "inbound"),
            namespace: required(url, "namespace"), name: required(url, "name"), start: now - w.ms, end: now, stepMs, rateWindow: `${Math.max(60, Math.round((2 * stepMs) / 1000))}s`,
          });
          send(res, 200, m);
          return true;
        }
        case "/api/v1/telemetry/edge-metrics": {
          const w = windowParam(url, "window", "10m", retentionMs);
          const stepMs = Math.max(5000, Math.round(w.ms / 30));
          send(res, 200, await edgeMetrics(backend(), { source: required(url, "source"), target: required(url, "target"), start: now - w.ms, end: now, stepMs, rateWindow: `${Math.max(60, Math.round((2 * stepMs) / 1000))}s` }));
          return true;
        }
        case "/api/v1/telemetry/health": {
          const w = windowParam(url, "window", "5m", retentionMs);
          send(res, 200, await meshHealth(backend(), { window: w.text, namespaces: namespaces(url), now, config: healthConfig }));
          return true;
        }
        case "/api/v1/telemetry/health-config":
          // The tolerances in force: the configured ones, or null for the defaults (Healthy under 0.1 %, Failure from 20 %).
          send(res, 200, { rate: healthConfig?.config.rate ?? null, defaults: { degradedPercent: 0.1, failurePercent: 20 } });
          return true;
        default:
          status(res, 404, "NotFound", `no telemetry API at ${path}; use /api/v1/telemetry/graph, /metrics, /edge-metrics or /health`);
          return true;
      }
    } catch (err) {
      if (err instanceof ParamError || err instanceof PromQLError || err instanceof EdgeIdError) status(res, 400, "BadRequest", err.message);
      else status(res, 502, "BadGateway", (err as Error).message);
      return true;
    }
  };
}
