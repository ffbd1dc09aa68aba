// Charts of one service, workload or app (inbound or outbound) over a window. PromQL only, so they answer the same
// from the embedded store or Prometheus.
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

/**
 * Inbound requests as the callers' sidecars reported them (failures that never reached the destination included),
 * plus those of callers without a sidecar, which only the destination saw. Outbound is the source's view already.
 */
function requestSelectors(kind: EntityKind, direction: Direction, namespace: string, name: string): string[] {
  const dest = selector(kind, direction, namespace, name);
  if (direction === "outbound") return [dest];
  return [dest.replace('reporter="destination"', 'reporter="source"'), `${dest},source_workload="unknown"`];
}

/** Point-wise sum of series sampled at the same steps (a missing series adds nothing). */
function addPoints(...series: Points[]): Points {
  const at = new Map<number, number>();
  for (const s of series) for (const [t, v] of s) at.set(t, (at.get(t) ?? 0) + v);
  return [...at].sort((a, b) => a[0] - b[0]);
}

/** The PromQL behind each chart (request and error rates are sums of the listed queries); also what `trellis dashboards export` writes. */
export function entityQueries(kind: EntityKind, direction: Direction, namespace: string, name: string, w: string): Record<Exclude<keyof EntityMetrics, "requestRate" | "errorRatio">, string> & { requestRates: string[]; errorRates: string[] } {
  const sel = selector(kind, direction, namespace, name);
  const quantile = (q: number) => `histogram_quantile(${q}, sum(rate(istio_request_duration_milliseconds_bucket{${sel}}[${w}])) by (le))`;
  const reqSels = requestSelectors(kind, direction, namespace, name);
  return {
    requestRates: reqSels.map((x) => `sum(rate(istio_requests_total{${x}}[${w}]))`),
    errorRates: reqSels.map((x) => `sum(rate(istio_requests_total{${x},response_code=~"5..|0"}[${w}]))`),
    p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99),
    requestSize: `sum(rate(istio_request_bytes_sum{${sel}}[${w}])) / sum(rate(istio_request_bytes_count{${sel}}[${w}]))`,
    responseSize: `sum(rate(istio_response_bytes_sum{${sel}}[${w}])) / sum(rate(istio_response_bytes_count{${sel}}[${w}]))`,
    tcpSent: `sum(rate(istio_tcp_sent_bytes_total{${sel}}[${w}]))`,
    tcpReceived: `sum(rate(istio_tcp_received_bytes_total{${sel}}[${w}]))`,
  };
}

/** One range query's first series as chart points (a step with no finite value counts 0). */
export function rangePoints(backend: QueryBackend, o: { start: number; end: number; stepMs: number }): (query: string) => Promise<Points> {
  return async (query) => (await backend.range(query, o.start, o.end, o.stepMs))[0]?.points.map(([t, v]) => [t, Number.isFinite(v) ? v : 0] as [number, number]) ?? [];
}

/** Errors over requests per step. No error series at a step means no errors, not no data: 0 wherever there was traffic. */
export function errorRatioPoints(requestRate: Points, errors: Points): Points {
  const errorsAt = new Map(errors);
  return requestRate.map(([t, rps]) => [t, rps > 0 ? (errorsAt.get(t) ?? 0) / rps : 0]);
}

export async function entityMetrics(backend: QueryBackend, o: { kind: EntityKind; direction: Direction; namespace: string; name: string; start: number; end: number; stepMs: number; rateWindow: string }): Promise<EntityMetrics> {
  const one = rangePoints(backend, o);
  const q = entityQueries(o.kind, o.direction, o.namespace, o.name, o.rateWindow);
  const [rates, errorRates, p50, p95, p99, requestSize, responseSize, tcpSent, tcpReceived] = await Promise.all([
    Promise.all(q.requestRates.map(one)), Promise.all(q.errorRates.map(one)),
    one(q.p50), one(q.p95), one(q.p99), one(q.requestSize), one(q.responseSize), one(q.tcpSent), one(q.tcpReceived),
  ]);
  const requestRate = addPoints(...rates);
  const errorRatio = errorRatioPoints(requestRate, addPoints(...errorRates));
  return { requestRate, errorRatio, p50, p95, p99, requestSize, responseSize, tcpSent, tcpReceived };
}
