// ServiceEntry and WorkloadEntry: services and workloads that run no Trellis proxy (VMs, external APIs, proxyless
// gRPC servers). A ServiceEntry selects WorkloadEntries by labels or lists its endpoints inline.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "./registry.js";
import { localityOf } from "./locality.js";

export interface Port { number: number; name?: string; protocol?: string; targetPort?: number }
export interface SeEndpoint { address: string; ports?: Record<string, number>; labels?: Record<string, string>; serviceAccount?: string; locality?: string }

export interface ServiceEntrySpec {
  hosts: string[];
  ports?: Port[];
  location?: "MESH_EXTERNAL" | "MESH_INTERNAL";
  resolution?: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN";
  workloadSelector?: { labels?: Record<string, string> };
  endpoints?: SeEndpoint[];
}

export interface WorkloadEntrySpec { address: string; ports?: Record<string, number>; labels?: Record<string, string>; serviceAccount?: string; weight?: number; locality?: string }

export type Resolution = "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN";

/** What translation needs of the ServiceEntry behind a host: how its endpoints are found and whether it is in the mesh. */
export interface ServiceEntryFacts {
  resolution: Resolution;
  /** MESH_EXTERNAL (the default): no mesh mTLS, no peer metadata exchange. */
  external: boolean;
  /** Inline endpoints and the WorkloadEntries the entry selects (addresses may be DNS names with DNS resolution). */
  endpoints: SeEndpoint[];
  ports: Port[];
}

export interface ExtraService {
  hostname: string;
  namespace: string;
  ports: Array<{ port: number; name?: string; protocol?: string }>;
  endpoints: Workload[];
  entry: ServiceEntryFacts;
}

/** Istio's endpoint port for a service port: the endpoint's own port of that name, else the targetPort, else the number. */
function targetOf(e: SeEndpoint, port: Port): number {
  return e.ports?.[port.name ?? ""] ?? port.targetPort ?? port.number;
}

function endpointWorkload(id: string, namespace: string, e: SeEndpoint, ports: Port[]): Workload {
  return {
    id, name: id, namespace, labels: e.labels ?? {}, serviceAccount: e.serviceAccount ?? "default", address: e.address,
    inboundPort: ports[0] ? targetOf(e, ports[0]) : 0, portTargets: Object.fromEntries(ports.map((p) => [p.number, targetOf(e, p)])),
    servicePorts: [], upstreams: [], ready: true, sidecar: false, mtls: false, interception: "NONE", locality: localityOf(e.locality, e.labels ?? {}),
  };
}

/** The services ServiceEntries declare, with their endpoints (from WorkloadEntries they select, or inline). */
export function serviceEntryServices(resources: IstioResource[]): ExtraService[] {
  const wes = resources.filter((r) => r.kind === "WorkloadEntry") as unknown as Array<IstioResource<WorkloadEntrySpec>>;
  const out: ExtraService[] = [];
  for (const se of resources.filter((r) => r.kind === "ServiceEntry") as unknown as Array<IstioResource<ServiceEntrySpec>>) {
    const ns = se.metadata.namespace ?? "default";
    const ports = se.spec.ports ?? [];
    const selector = se.spec.workloadSelector?.labels;
    const selected = selector ? wes.filter((we) => (we.metadata.namespace ?? "default") === ns && Object.entries(selector).every(([k, v]) => we.spec.labels?.[k] === v)) : [];
    const entry: ServiceEntryFacts = {
      resolution: se.spec.resolution ?? "NONE", external: se.spec.location !== "MESH_INTERNAL", ports,
      endpoints: [...selected.map((we) => we.spec), ...(se.spec.endpoints ?? [])],
    };
    const endpoints: Workload[] = ports.length === 0 ? [] : [
      ...selected.map((we) => endpointWorkload(`WorkloadEntry/${ns}/${we.metadata.name}`, ns, we.spec, ports)),
      ...(se.spec.endpoints ?? []).map((e, i) => endpointWorkload(`ServiceEntry/${ns}/${se.metadata.name}/${i}`, ns, e, ports)),
    ];
    for (const host of se.spec.hosts ?? []) {
      out.push({ hostname: host, namespace: ns, ports: ports.map((p) => ({ port: p.number, name: p.name, protocol: p.protocol })), endpoints, entry });
    }
  }
  return out;
}

/**
 * WorkloadEntries that join a sidecar-registered service, as a Kubernetes Service's selector picks WorkloadEntries in
 * Istio: same namespace, label `app` equal to the service's name. They run no proxy, so peers reach them in
 * plaintext while the service's sidecars get mutual TLS (auto mTLS is decided per endpoint).
 */
export function workloadEntriesOf(service: { name: string; namespace: string; ports: Array<{ port: number; name?: string; protocol?: string }> }, resources: IstioResource[]): Workload[] {
  const port = service.ports[0];
  if (!port) return [];
  const out: Workload[] = [];
  for (const we of resources.filter((r) => r.kind === "WorkloadEntry") as unknown as Array<IstioResource<WorkloadEntrySpec>>) {
    const ns = we.metadata.namespace ?? "default";
    if (ns !== service.namespace || we.spec.labels?.app !== service.name) continue;
    out.push(endpointWorkload(`WorkloadEntry/${ns}/${we.metadata.name}`, ns, we.spec, service.ports.map((p) => ({ number: p.port, name: p.name, protocol: p.protocol }))));
  }
  return out;
}
