// The service view translation works on: services with their ports and endpoints, derived from registered
// workloads (and WorkloadEntries), plus helpers to resolve short host names as Istio does.
import type { ServicePort, Workload } from "../registry/registry.js";
import type { ServiceEntryFacts } from "../registry/service-entries.js";

export interface Service {
  name: string;
  namespace: string;
  hostname: string;
  ports: ServicePort[];
  endpoints: Workload[];
  /** Set when a ServiceEntry declares the service (its resolution and location shape the clusters). */
  entry?: ServiceEntryFacts;
}

export const DOMAIN_SUFFIX = "cluster.local";

export function fqdn(host: string, namespace: string): string {
  if (host.includes("*")) return host;
  const parts = host.split(".");
  if (parts.length === 1) return `${host}.${namespace}.svc.${DOMAIN_SUFFIX}`;
  if (parts.length === 2) return `${host}.svc.${DOMAIN_SUFFIX}`;
  return host;
}

export function servicesOf(workloads: Workload[]): Map<string, Service> {
  const out = new Map<string, Service>();
  for (const w of workloads) {
    if (!w.service) continue;
    const hostname = `${w.service}.${w.namespace}.svc.${DOMAIN_SUFFIX}`;
    let s = out.get(hostname);
    if (!s) {
      s = { name: w.service, namespace: w.namespace, hostname, ports: [], endpoints: [] };
      out.set(hostname, s);
    }
    for (const p of w.servicePorts) if (!s.ports.some((x) => x.port === p.port)) s.ports.push(p);
    s.endpoints.push(w);
  }
  for (const s of out.values()) s.endpoints.sort((a, b) => a.id.localeCompare(b.id));
  return out;
}

export function clusterName(direction: "outbound" | "inbound", port: number, subset: string, host: string): string {
  return `${direction}|${port}|${subset}|${host}`;
}

export function isHttp(p: ServicePort): boolean {
  return ["HTTP", "HTTP2", "GRPC", "GRPC-WEB", ""].includes((p.protocol ?? "HTTP").toUpperCase());
}

export function isHttp2(p: ServicePort): boolean {
  return ["HTTP2", "GRPC", "GRPC-WEB"].includes((p.protocol ?? "").toUpperCase());
}
