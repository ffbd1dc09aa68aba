// Charts of one service, workload or app (inbound or outbound) over a window, and the mesh's health by Kiali's
// default thresholds. PromQL only, so they answer the same from the embedded store or Prometheus.
import type { QueryBackend } from "./query-backend.js";

export type EntityKind = "service" | "workload" | "app";
export type Direction = "inbound" | "outbound";
export type Points = Array<[number, number]>;

export interface EntityMetrics {
  requestRate: Points;
  errorRatio: Points;
  p50: Points;
  p95: Points;
  p99: Points;
  requestSize: Points;
  responseSize: Points;
  tcpSent: Points;
  tcpReceived: Points;
}

function selector(kind: EntityKind, direction: Direction, namespace: string, name: string): string {
  const q = (v: string) => JSON.stringify(v);
  if (direction === "outbound") {
    const who = kind === "workload" ? `source_workload=${q(name)}` : `source_app=${q(name)}`;
    return `reporter="source",source_workload_namespace=${q(namespace)},${who}`;
  }
  const who = kind === "service" ? `destination_service_name=${q(name)},destination_service_namespace=${q(namespace)}` : kind === "app" ? `destination_app=${q(name)},destination_workload_namespace=${q(namespace)}` : `destination_workload=${q(name)},destination_workload_namespace=${q(namespace)}`;
  return `reporter="destination",${who}`;
}

export async function entityMetrics(backend: QueryBackend, o: { kind: EntityKind; direction: Direction; namespace: string; name: string; start: number; end: number; stepMs: number; rateWindow: string }): Promise<EntityMetrics> {
  const sel = selector(o.kind, o.direction, o.namespace, o.name);
  const w = o.rateWindow;
  const one = async (query: string): Promise<Points> => (await backend.range(query, o.start, o.end, o.stepMs))[0]?.points.map(([t, v]) => [t, Number.isFinite(v) ? v : 0] as [number, number]) ?? [];
  const quantile = (q: number) => one(`histogram_quantile(${q}, sum(rate(istio_request_duration_milliseconds_bucket{${sel}}[${w}])) by (le))`);
  const [requestRate, errorRate, p50, p95, p99, requestSize, responseSize, tcpSent, tcpReceived] = await Promise.all([
    one(`sum(rate(istio_requests_total{${sel}}[${w}]))`),
    one(`sum(rate(istio_requests_total{${sel},response_code=~"5..|0"}[${w}]))`),
    quantile(0.5), quantile(0.95), quantile(0.99),
    one(`sum(rate(istio_request_bytes_sum{${sel}}[${w}])) / sum(rate(istio_request_bytes_count{${sel}}[${w}]))`),
    one(`sum(rate(istio_response_bytes_sum{${sel}}[${w}])) / sum(rate(istio_response_bytes_count{${sel}}[${w}]))`),
    one(`sum(rate(istio_tcp_sent_bytes_total{${sel}}[${w}]))`),
    one(`sum(rate(istio_tcp_received_bytes_total{${sel}}[${w}]))`),
  ]);
  // No error series at a step means no errors, not no data: the ratio is 0 wherever there was traffic.
  const errorsAt = new Map(errorRate);
  const errorRatio: Points = requestRate.map(([t, rps]) => [t, rps > 0 ? (errorsAt.get(t) ?? 0) / rps : 0]);
  return { requestRate, errorRatio, p50, p95, p99, requestSize, responseSize, tcpSent, tcpReceived };
}

export type HealthStatus = "Healthy" | "Degraded" | "Failure" | "NA";

export interface HealthEntry {
  kind: EntityKind;
  namespace: string;
  name: string;
  requestRate: number;
  errorRatio: number;
  status: HealthStatus;
}

/** Kiali's default tolerances: degraded from 0.1 % of requests failing, failure from 20 %. */
export const HEALTH_THRESHOLDS = { degraded: 0.001, failure: 0.2 };

export function healthStatus(rps: number, errorRatio: number, t = HEALTH_THRESHOLDS): HealthStatus {
  if (rps <= 0) return "NA";
  if (errorRatio >= t.failure) return "Failure";
  if (errorRatio >= t.degraded) return "Degraded";
  return "Healthy";
}

export async function meshHealth(backend: QueryBackend, o: { window: string; namespaces: string[]; now: number }): Promise<HealthEntry[]> {
  const ns = o.namespaces.length ? `,destination_service_namespace=~"${o.namespaces.join("|")}"` : "";
  const base = `istio_requests_total{reporter="destination"${ns}}`;
  const errs = `istio_requests_total{reporter="destination"${ns},response_code=~"5..|0"}`;
  const out: HealthEntry[] = [];
  const groups: Array<[EntityKind, string, string]> = [["service", "destination_service_namespace", "destination_service_name"], ["workload", "destination_workload_namespace", "destination_workload"], ["app", "destination_workload_namespace", "destination_app"]];
  for (const [kind, nsLabel, nameLabel] of groups) {
    const [total, errors] = await Promise.all([
      backend.instant(`sum(rate(${base}[${o.window}])) by (${nsLabel},${nameLabel})`, o.now),
      backend.instant(`sum(rate(${errs}[${o.window}])) by (${nsLabel},${nameLabel})`, o.now),
    ]);
    const errorOf = new Map(errors.map((s) => [`${s.labels[nsLabel]}/${s.labels[nameLabel]}`, s.value]));
    for (const s of total) {
      const name = s.labels[nameLabel];
      if (!name || name === "unknown") continue;
      const ratio = s.value > 0 ? (errorOf.get(`${s.labels[nsLabel]}/${name}`) ?? 0) / s.value : 0;
      out.push({ kind, namespace: s.labels[nsLabel], name, requestRate: s.value, errorRatio: ratio, status: healthStatus(s.value, ratio) });
    }
  }
  return out.sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));
}
