// Grafana-importable dashboards (schema 39) for the mesh, a service and a workload, from the same PromQL the
// console's charts run (entity-metrics.ts), with Grafana template variables for the namespace and the name, so
// people who run Grafana against Prometheus see what the console shows. Pure: returns JSON.
import { type Direction, type EntityKind, entityQueries } from "../metrics/entity-metrics.js";

type Json = Record<string, unknown>;

interface Target { expr: string; legendFormat: string }

let nextId = 1;

function panel(title: string, unit: string, targets: Target[], x: number, y: number): Json {
  return {
    id: nextId++, type: "timeseries", title, datasource: { type: "prometheus", uid: "${datasource}" },
    gridPos: { x, y, w: 12, h: 8 }, fieldConfig: { defaults: { unit }, overrides: [] },
    targets: targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), expr: t.expr, legendFormat: t.legendFormat, datasource: { type: "prometheus", uid: "${datasource}" } })),
  };
}

function variable(name: string, query: string): Json {
  return { name, type: "query", datasource: { type: "prometheus", uid: "${datasource}" }, query: { query, refId: name }, refresh: 2, includeAll: false, multi: false };
}

function dashboard(uid: string, title: string, vars: Json[], panels: Json[]): Json {
  return {
    uid, title, tags: ["trellis", "istio"], schemaVersion: 39, version: 1, editable: true, time: { from: "now-1h", to: "now" }, refresh: "15s",
    templating: { list: [{ name: "datasource", type: "datasource", query: "prometheus" }, ...vars] }, panels,
  };
}

/** Inbound and outbound rows of one kind of entity: the console's charts of a service or workload page. */
function entityPanels(kind: EntityKind, name: string): Json[] {
  const out: Json[] = [];
  (["inbound", "outbound"] as Direction[]).forEach((direction, row) => {
    const q = entityQueries(kind, direction, "$namespace", `$${name}`, "$__rate_interval");
    const y = row * 24;
    out.push(
      panel(`${direction}: requests per second`, "reqps", [{ expr: q.requestRates.join(" + "), legendFormat: "requests" }], 0, y),
      panel(`${direction}: error ratio (5xx and no response)`, "percentunit", [{ expr: `(${q.errorRates.join(" + ")}) / (${q.requestRates.join(" + ")})`, legendFormat: "errors" }], 12, y),
      panel(`${direction}: request duration`, "ms", [{ expr: q.p50, legendFormat: "p50" }, { expr: q.p95, legendFormat: "p95" }, { expr: q.p99, legendFormat: "p99" }], 0, y + 8),
      panel(`${direction}: request and response size`, "bytes", [{ expr: q.requestSize, legendFormat: "request" }, { expr: q.responseSize, legendFormat: "response" }], 12, y + 8),
      panel(`${direction}: TCP bytes`, "Bps", [{ expr: q.tcpSent, legendFormat: "sent" }, { expr: q.tcpReceived, legendFormat: "received" }], 0, y + 16),
    );
  });
  return out;
}

export function grafanaDashboards(): Record<string, Json> {
  nextId = 1;
  const mesh = dashboard("trellis-mesh", "Trellis: mesh", [], [
    panel("Global request volume", "reqps", [{ expr: 'round(sum(rate(istio_requests_total{reporter="source"}[$__rate_interval])), 0.001)', legendFormat: "requests" }], 0, 0),
    panel("Global success rate (non-5xx)", "percentunit", [{ expr: 'sum(rate(istio_requests_total{reporter="source",response_code!~"5.."}[$__rate_interval])) / sum(rate(istio_requests_total{reporter="source"}[$__rate_interval]))', legendFormat: "success" }], 12, 0),
    panel("Requests by destination service", "reqps", [{ expr: 'sum(rate(istio_requests_total{reporter="source"}[$__rate_interval])) by (destination_service)', legendFormat: "{{destination_service}}" }], 0, 8),
    panel("P99 by destination service", "ms", [{ expr: 'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="source"}[$__rate_interval])) by (le, destination_service))', legendFormat: "{{destination_service}}" }], 12, 8),
  ]);
  nextId = 1;
  const service = dashboard("trellis-service", "Trellis: service", [
    variable("namespace", "label_values(istio_requests_total, destination_service_namespace)"),
    variable("service", 'label_values(istio_requests_total{destination_service_namespace="$namespace"}, destination_service_name)'),
  ], entityPanels("service", "service"));
  nextId = 1;
  const workload = dashboard("trellis-workload", "Trellis: workload", [
    variable("namespace", "label_values(istio_requests_total, destination_workload_namespace)"),
    variable("workload", 'label_values(istio_requests_total{destination_workload_namespace="$namespace"}, destination_workload)'),
  ], entityPanels("workload", "workload"));
  return { "trellis-mesh.json": mesh, "trellis-service.json": service, "trellis-workload.json": workload };
}
