// The mesh's health as Kiali computes it: every service, workload and app from its inbound traffic and (workloads
// and apps) its outbound traffic, seen by the callers' sidecars (reporter="source"), so a request that never reached
// its destination (a fault abort, no healthy upstream, a timeout) counts against the service its route chose.
// Callers without a sidecar are only seen by the destination, so their requests come from that reporter.
import { type CodeTraffic, type CompiledHealthConfig, toleranceStatus } from "./health-config.js";
import type { Labels } from "./promql-eval.js";
import type { QueryBackend } from "./query-backend.js";

export type HealthKind = "service" | "workload" | "app";
export type HealthStatus = "Healthy" | "Degraded" | "Failure" | "NA";

export interface Traffic { requestRate: number; errorRatio: number }

export interface HealthEntry {
  kind: HealthKind;
  namespace: string;
  name: string;
  /** Requests per second in, or out when there is no inbound traffic (a root caller). */
  requestRate: number;
  /** The error ratio of the direction that decides the status. */
  errorRatio: number;
  status: HealthStatus;
  inbound: Traffic;
  /** Workloads and apps only: what they sent, failures on the way included. */
  outbound?: Traffic;
}

/** Kiali's default tolerances: degraded from 0.1 % of requests failing, failure from 20 %. */
export const HEALTH_THRESHOLDS = { degraded: 0.001, failure: 0.2 };

export function healthStatus(rps: number, errorRatio: number, t = HEALTH_THRESHOLDS): HealthStatus {
  if (rps <= 0) return "NA";
  if (errorRatio >= t.failure) return "Failure";
  if (errorRatio >= t.degraded) return "Degraded";
  return "Healthy";
}

const RANK: Record<HealthStatus, number> = { NA: 0, Healthy: 1, Degraded: 2, Failure: 3 };

const BY = "source_workload_namespace,source_workload,source_app,destination_service_namespace,destination_service_name,destination_workload_namespace,destination_workload,destination_app,request_protocol,response_code";

const known = (v: string | undefined): v is string => !!v && v !== "unknown";

/** Istio's error: a 5xx, no response at all (code 0), or a gRPC call that did not end OK. */
export function isErrorCode(code: string, protocol: string): boolean {
  return code === "0" || code.startsWith("5") || (protocol === "grpc" && code !== "200");
}

interface Tally { rps: number; errors: number; byCode: Map<string, number> }

class Tallies {
  readonly map = new Map<string, Tally>();

  add(key: string, rps: number, error: boolean, protocolCode: string): void {
    const t = this.map.get(key) ?? { rps: 0, errors: 0, byCode: new Map<string, number>() };
    t.rps += rps;
    if (error) t.errors += rps;
    t.byCode.set(protocolCode, (t.byCode.get(protocolCode) ?? 0) + rps);
    this.map.set(key, t);
  }

  /** Rates by "protocol code", for configured tolerances. */
  codes(key: string): CodeTraffic {
    const t = this.map.get(key);
    return { rps: t?.rps ?? 0, byCode: t?.byCode ?? new Map() };
  }

  traffic(key: string): Traffic {
    const t = this.map.get(key);
    return t && t.rps > 0 ? { requestRate: t.rps, errorRatio: t.errors / t.rps } : { requestRate: 0, errorRatio: 0 };
  }
}

/** One series' contribution: inbound to its service, workload and app; outbound from its caller (source view only). */
function tally(inbound: Tallies, outbound: Tallies, l: Labels, rps: number, sourceView: boolean): void {
  const code = l.response_code || "0";
  const protocol = l.request_protocol || "http";
  const error = isErrorCode(code, protocol);
  const pc = `${protocol} ${code}`;
  if (known(l.destination_service_name)) inbound.add(`service/${l.destination_service_namespace}/${l.destination_service_name}`, rps, error, pc);
  if (known(l.destination_workload)) {
    inbound.add(`workload/${l.destination_workload_namespace}/${l.destination_workload}`, rps, error, pc);
    if (known(l.destination_app)) inbound.add(`app/${l.destination_workload_namespace}/${l.destination_app}`, rps, error, pc);
  }
  if (sourceView && known(l.source_workload)) {
    outbound.add(`workload/${l.source_workload_namespace}/${l.source_workload}`, rps, error, pc);
    if (known(l.source_app)) outbound.add(`app/${l.source_workload_namespace}/${l.source_app}`, rps, error, pc);
  }
}

export async function meshHealth(backend: QueryBackend, o: { window: string; namespaces: string[]; now: number; config?: CompiledHealthConfig }): Promise<HealthEntry[]> {
  const [fromSource, fromDestination] = await Promise.all([
    backend.instant(`sum(rate(istio_requests_total{reporter="source"}[${o.window}])) by (${BY})`, o.now),
    backend.instant(`sum(rate(istio_requests_total{reporter="destination"}[${o.window}])) by (${BY})`, o.now),
  ]);
  const inbound = new Tallies();
  const outbound = new Tallies();
  for (const s of fromSource) if (s.value > 0) tally(inbound, outbound, s.labels, s.value, true);
  for (const s of fromDestination) if (s.value > 0 && !known(s.labels.source_workload)) tally(inbound, outbound, s.labels, s.value, false);
  const keys = new Set([...inbound.map.keys(), ...outbound.map.keys()]);
  const out: HealthEntry[] = [];
  for (const key of keys) {
    const [kind, namespace, ...rest] = key.split("/");
    if (o.namespaces.length && !o.namespaces.includes(namespace)) continue;
    const inT = inbound.traffic(key);
    const outT = kind === "service" ? undefined : outbound.traffic(key);
    const entity = { kind, namespace, name: rest.join("/") };
    // A configured tolerance (Kiali's health_config) decides, and its error ratio is what it counted; else the defaults.
    const tolIn = o.config && toleranceStatus(o.config.compiled, entity, "inbound", inbound.codes(key));
    const tolOut = o.config && outT && toleranceStatus(o.config.compiled, entity, "outbound", outbound.codes(key));
    if (tolIn) inT.errorRatio = tolIn.errorRatio;
    if (tolOut) outT!.errorRatio = tolOut.errorRatio;
    const inStatus = tolIn ? tolIn.status : healthStatus(inT.requestRate, inT.errorRatio);
    const outStatus = outT ? (tolOut ? tolOut.status : healthStatus(outT.requestRate, outT.errorRatio)) : "NA";
    const worse = RANK[outStatus] > RANK[inStatus] ? outT! : inT;
    out.push({
      kind: kind as HealthKind, namespace, name: rest.join("/"),
      requestRate: inT.requestRate > 0 ? inT.requestRate : outT?.requestRate ?? 0, errorRatio: worse.errorRatio,
      status: RANK[outStatus] > RANK[inStatus] ? outStatus : inStatus, inbound: inT, ...(outT ? { outbound: outT } : {}),
    });
  }
  return out.sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));
}
