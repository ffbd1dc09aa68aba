// Charts of one graph edge (a caller and what it called) over a window: request rate, error ratio and p95 latency,
// from the caller's sidecar (reporter="source") or, for a caller without one, the destination's. The edge is named by
// the graph's node ids ("ns/app/NAME[/VERSION]", "ns/workload/NAME", "ns/service/NAME", "unknown").
import type { QueryBackend } from "./query-backend.js";
import { errorRatioPoints, type Points, rangePoints } from "./entity-metrics.js";

export interface EdgeMetrics {
  requestRate: Points;
  errorRatio: Points;
  p95: Points;
}

export class EdgeIdError extends Error {}

const q = (v: string) => JSON.stringify(v);

/** Label matchers for one side of an edge, from its node id; throws EdgeIdError naming what is wrong. */
export function sideMatchers(id: string, side: "source" | "destination"): string[] {
  if (id === "unknown") {
    if (side === "destination") throw new EdgeIdError(`target: "unknown" is only ever a caller`);
    return [`source_workload="unknown"`];
  }
  const [namespace, type, name, version, ...rest] = id.split("/");
  if (!namespace || !name || rest.length) throw new EdgeIdError(`${side === "source" ? "source" : "target"}: "${id}" is not a graph node id (ns/app/NAME[/VERSION], ns/workload/NAME or ns/service/NAME)`);
  const nsLabel = side === "destination" && type === "service" ? "destination_service_namespace" : `${side}_workload_namespace`;
  const out = [`${nsLabel}=${q(namespace)}`];
  if (type === "service") {
    // A service -> workload hop: the requests to that service (from any caller) that reached the workload.
    if (side === "source") return [`destination_service_namespace=${q(namespace)}`, `destination_service_name=${q(name)}`];
    out.push(`destination_service_name=${q(name)}`);
  } else if (type === "workload") out.push(`${side}_workload=${q(name)}`);
  else if (type === "app") {
    out.push(`${side}_app=${q(name)}`);
    if (version && version !== "latest") out.push(`${side}_version=${q(version)}`);
  } else throw new EdgeIdError(`"${id}": node type "${type}" is not app, workload or service`);
  return out;
}

export async function edgeMetrics(backend: QueryBackend, o: { source: string; target: string; start: number; end: number; stepMs: number; rateWindow: string }): Promise<EdgeMetrics> {
  const pair = [...sideMatchers(o.source, "source"), ...sideMatchers(o.target, "destination")].join(",");
  // A caller without a sidecar is only seen by the destination.
  const reporter = o.source === "unknown" ? "destination" : "source";
  const sel = `reporter="${reporter}",${pair}`;
  const w = o.rateWindow;
  const one = rangePoints(backend, o);
  const [requestRate, errors, p95] = await Promise.all([
    one(`sum(rate(istio_requests_total{${sel}}[${w}]))`),
    one(`sum(rate(istio_requests_total{${sel},response_code=~"5..|0"}[${w}]))`),
    one(`histogram_quantile(0.95, sum(rate(istio_request_duration_milliseconds_bucket{${sel}}[${w}])) by (le))`),
  ]);
  return { requestRate, errorRatio: errorRatioPoints(requestRate, errors), p95 };
}
