// The push index (Istio's PushContext): what every proxy's translation reads, built once per recompute instead of
// once per proxy: the mesh's services and VIPs, resources by kind, VirtualServices and DestinationRules by host, and
// the Gateway API's conversion. It also carries the build cache (push-cache.ts) that lets proxies share resources.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { serviceEntryServices, workloadEntriesOf } from "../registry/service-entries.js";
import type { DestinationRuleSpec } from "../translate/destination-rules.js";
import { convertGatewayApi } from "../translate/gateway-api.js";
import { isGatewayProxy } from "../translate/gateway-servers.js";
import { fqdn, type Service, servicesOf } from "../translate/services.js";
import type { VirtualServiceSpec } from "../translate/virtual-services.js";
import { CLUSTER_IP_ANNOTATION, serviceVips, vipHostnames } from "../translate/vips.js";
import { PushCache } from "./push-cache.js";

type Vs = IstioResource<VirtualServiceSpec>;
type Dr = IstioResource<DestinationRuleSpec>;

/** Istio's gateways carry no tlsMode label: sidecars reach them in plaintext unless a DestinationRule says ISTIO_MUTUAL. */
function asMeshEndpoint(w: Workload): Workload {
  return isGatewayProxy(w) && w.mtls ? { ...w, mtls: false } : w;
}

/** Every service of the mesh: from registered workloads, then ServiceEntries for hosts no workload serves. */
export function meshServices(workloads: Workload[], resources: IstioResource[]): Map<string, Service> {
  const services = servicesOf(workloads.map(asMeshEndpoint));
  // WorkloadEntries only: each service scans them, so the scan must not be over every resource of the mesh.
  const entries = resources.filter((r) => r.kind === "WorkloadEntry");
  for (const s of services.values()) s.endpoints.push(...workloadEntriesOf(s, entries));
  for (const extra of entryServices(resources, entries)) {
    if (!services.has(extra.hostname)) services.set(extra.hostname, { name: extra.hostname.split(".")[0], namespace: extra.namespace, hostname: extra.hostname, ports: extra.ports, endpoints: extra.endpoints, entry: extra.entry });
  }
  return services;
}

/**
 * The services of a ServiceEntry without a workloadSelector depend on it alone: worked out once per stored object
 * (stores hand out the same object until it is written), not on every push for a thousand entries.
 */
const byEntry = new WeakMap<object, ReturnType<typeof serviceEntryServices>>();

function entryServices(resources: IstioResource[], workloadEntries: IstioResource[]): ReturnType<typeof serviceEntryServices> {
  const out: ReturnType<typeof serviceEntryServices> = [];
  for (const r of resources) {
    if (r.kind !== "ServiceEntry") continue;
    if ((r.spec as { workloadSelector?: unknown } | undefined)?.workloadSelector) {
      out.push(...serviceEntryServices([r, ...workloadEntries]));
      continue;
    }
    let known = byEntry.get(r);
    if (!known) byEntry.set(r, (known = serviceEntryServices([r])));
    out.push(...known);
  }
  return out;
}

/** VIPs the platform assigned (Kubernetes ClusterIPs), by hostname: from endpoints, or an endpoint-less entry. */
function assignedVips(workloads: Workload[], resources: IstioResource[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of workloads) if (w.serviceVip && w.service) out.set(fqdn(w.service, w.namespace), w.serviceVip);
  for (const r of resources) {
    const ip = r.kind === "ServiceEntry" ? r.metadata.annotations?.[CLUSTER_IP_ANNOTATION] : undefined;
    const host = (r.spec as { hosts?: string[] } | undefined)?.hosts?.[0];
    if (ip && host) out.set(host, ip);
  }
  return out;
}

/** Every service's VIP: the platform's (ClusterIP) where it assigned one, else the hashed one. */
export function meshVips(services: Map<string, Service>, workloads: Workload[], resources: IstioResource[]): Map<string, string> {
  return serviceVips(vipHostnames(services), assignedVips(workloads, resources));
}

export class PushIndex {
  readonly services: Map<string, Service>;
  readonly vips: Map<string, string>;
  /** The Gateway API's routes and gateways as the Istio resources they stand for (mesh routes included: GAMMA). */
  readonly gatewayApi: IstioResource[];
  /** The stored resources plus the Gateway API's conversion. */
  readonly withGatewayApi: IstioResource[];
  readonly vss: Vs[];
  readonly drs: Dr[];
  private readonly kinds = new Map<string, IstioResource[]>();
  /** VirtualServices by each exact host they name (fully qualified), and those naming wildcards, in list order. */
  private readonly vsByHost = new Map<string, Vs[]>();
  private readonly wildcardVss: Vs[] = [];
  private readonly vsOrder = new Map<Vs, number>();
  private readonly drByHost = new Map<string, Dr[]>();

  /** `cache` carries resources built for earlier proxies (and, patched by push-cache.ts, earlier recomputes). */
  constructor(readonly resources: IstioResource[], readonly workloads: Workload[], readonly cache = new PushCache()) {
    for (const r of resources) {
      const list = this.kinds.get(r.kind);
      if (list) list.push(r);
      else this.kinds.set(r.kind, [r]);
    }
    this.services = meshServices(workloads, resources);
    this.vips = meshVips(this.services, workloads, resources);
    this.gatewayApi = convertGatewayApi(resources, { services: this.services }).resources;
    this.withGatewayApi = this.gatewayApi.length ? [...resources, ...this.gatewayApi] : resources;
    this.vss = this.withGatewayApi.filter((r) => r.kind === "VirtualService") as unknown as Vs[];
    this.drs = this.of<DestinationRuleSpec>("DestinationRule");
    this.vss.forEach((vs, i) => {
      this.vsOrder.set(vs, i);
      const ns = vs.metadata.namespace ?? "default";
      const hosts = vs.spec.hosts ?? [];
      if (hosts.some((h) => h.includes("*"))) this.wildcardVss.push(vs);
      for (const h of new Set(hosts.filter((x) => !x.includes("*")).map((x) => fqdn(x, ns)))) push(this.vsByHost, h, vs);
    });
    for (const dr of this.drs) push(this.drByHost, fqdn(dr.spec.host, dr.metadata.namespace ?? "default"), dr);
  }

  /** The resources of one kind, in store order. */
  of<T = Record<string, unknown>>(kind: string): Array<IstioResource<T>> {
    return (this.kinds.get(kind) ?? []) as unknown as Array<IstioResource<T>>;
  }

  /**
   * The VirtualServices that may route `hostname` (exact host or a wildcard), in list order: a superset that
   * virtualServicesFor() narrows down exactly as it would the whole list.
   */
  vsCandidates(hostname: string): Vs[] {
    const exact = this.vsByHost.get(hostname) ?? [];
    if (this.wildcardVss.length === 0) return exact;
    return [...new Set([...exact, ...this.wildcardVss])].sort((a, b) => this.vsOrder.get(a)! - this.vsOrder.get(b)!);
  }

  /** The DestinationRules whose host is `hostname`, in list order (destinationRuleFor() picks among them). */
  drCandidates(hostname: string): Dr[] {
    return this.drByHost.get(hostname) ?? [];
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
