// What the analyzer knows of the mesh beyond Istio's resources: services and workloads, from the caller, from
// ServiceEntry and WorkloadEntry, and from Kubernetes objects found among the inputs; and how hosts resolve.
import type { IstioResource } from "./resource.js";

export interface WorkloadInfo {
  name?: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount?: string;
}

export interface ServiceInfo {
  /** Fully qualified, e.g. reviews.default.svc.cluster.local, or a ServiceEntry host. */
  hostname: string;
  namespace: string;
  ports?: Array<{ port: number; protocol?: string; name?: string; targetPort?: number }>;
}

export interface AnalysisContext {
  /** Known workloads; undefined = unknown, and checks that need them are skipped. */
  workloads?: WorkloadInfo[];
  /** Known services; undefined = unknown. */
  services?: ServiceInfo[];
  /** The mesh's root namespace, whose policies apply mesh-wide (Istio's default: istio-system). */
  rootNamespace?: string;
  domainSuffix?: string;
}

interface KnownService extends ServiceInfo {
  /** Labels selecting its workloads (Kubernetes Service selector, ServiceEntry workloadSelector). */
  selector?: Record<string, string>;
  /** ServiceEntry endpoints' own labels, which are workloads too. */
  endpointLabels?: Array<Record<string, string>>;
}

export function matchesLabels(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === "string") out[k] = x;
  return out;
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

export class MeshContext {
  readonly services: KnownService[] = [];
  readonly workloads: WorkloadInfo[] = [];
  readonly servicesKnown: boolean;
  readonly workloadsKnown: boolean;
  readonly rootNamespace: string;
  readonly suffix: string;

  constructor(resources: IstioResource[], others: Array<Record<string, unknown>>, context: AnalysisContext = {}) {
    this.rootNamespace = context.rootNamespace ?? "istio-system";
    this.suffix = context.domainSuffix ?? "cluster.local";
    this.services.push(...(context.services ?? []));
    this.workloads.push(...(context.workloads ?? []));
    let sawServices = context.services !== undefined;
    let sawWorkloads = context.workloads !== undefined;
    for (const o of others) {
      const meta = obj(o.metadata);
      const namespace = typeof meta.namespace === "string" ? meta.namespace : "default";
      const spec = obj(o.spec);
      if (o.kind === "Service" && typeof meta.name === "string") {
        sawServices = true;
        const ports = Array.isArray(spec.ports) ? spec.ports.map((p) => ({ port: Number(obj(p).port), name: obj(p).name as string | undefined, protocol: obj(p).protocol as string | undefined, targetPort: typeof obj(p).targetPort === "number" ? obj(p).targetPort as number : undefined })) : [];
        this.services.push({ hostname: `${meta.name}.${namespace}.svc.${this.suffix}`, namespace, ports, selector: spec.selector ? strMap(spec.selector) : undefined });
      } else if (WORKLOAD_KINDS.has(String(o.kind)) || o.kind === "Pod") {
        sawWorkloads = true;
        const template = o.kind === "Pod" ? o : obj(spec.template);
        const podSpec = obj(obj(template).spec);
        this.workloads.push({ name: typeof meta.name === "string" ? meta.name : undefined, namespace, labels: strMap(obj(obj(template).metadata).labels), serviceAccount: typeof podSpec.serviceAccountName === "string" ? podSpec.serviceAccountName : undefined });
      }
    }
    for (const r of resources) {
      const namespace = r.metadata.namespace ?? "default";
      const spec = obj(r.spec);
      if (r.kind === "ServiceEntry") {
        sawServices = true;
        const endpoints = Array.isArray(spec.endpoints) ? spec.endpoints.map((e) => strMap(obj(e).labels)) : [];
        const selector = spec.workloadSelector ? strMap(obj(spec.workloadSelector).labels) : undefined;
        const ports = Array.isArray(spec.ports) ? spec.ports.map((p) => ({ port: Number(obj(p).number), name: obj(p).name as string | undefined, protocol: obj(p).protocol as string | undefined })) : [];
        for (const h of Array.isArray(spec.hosts) ? spec.hosts : []) if (typeof h === "string") this.services.push({ hostname: h, namespace, ports, selector, endpointLabels: endpoints });
        for (const labels of endpoints) this.workloads.push({ namespace, labels });
      } else if (r.kind === "WorkloadEntry") {
        sawWorkloads = true;
        this.workloads.push({ name: r.metadata.name, namespace, labels: strMap(spec.labels), serviceAccount: typeof spec.serviceAccount === "string" ? spec.serviceAccount : undefined });
      }
    }
    this.servicesKnown = sawServices;
    this.workloadsKnown = sawWorkloads;
  }

  /**
   * Istio's short-name rule: "reviews" in namespace default is reviews.default.svc.cluster.local; a name with a dot
   * ("httpbin.org", "reviews.prod") is taken as written, as Istio's analyzer and pilot take it.
   */
  fqdn(host: string, namespace: string): string {
    if (host.startsWith("*") || host.includes(".")) return host;
    return `${host}.${namespace}.svc.${this.suffix}`;
  }

  /** Services a (possibly wildcard) host names, as seen from `namespace`. */
  servicesFor(host: string, namespace: string): KnownService[] {
    const name = this.fqdn(host, namespace);
    if (name === "*") return this.services;
    if (name.startsWith("*.")) {
      const suffix = name.slice(1);
      return this.services.filter((s) => s.hostname.endsWith(suffix) || (s.hostname.startsWith("*.") && s.hostname.slice(1).endsWith(suffix)));
    }
    return this.services.filter((s) => s.hostname === name || (s.hostname.startsWith("*.") && name.endsWith(s.hostname.slice(1))));
  }

  /** The workloads behind a service, or undefined when that cannot be known (no selector information). */
  workloadsOf(service: KnownService): WorkloadInfo[] | undefined {
    if (!this.workloadsKnown) return undefined;
    if (service.selector) return this.workloads.filter((w) => w.namespace === service.namespace && matchesLabels(service.selector, w.labels));
    if (service.endpointLabels && service.endpointLabels.length) return service.endpointLabels.map((labels) => ({ namespace: service.namespace, labels }));
    return undefined;
  }

  /** Workloads a policy selector picks: in its namespace, or everywhere from the root namespace. */
  selected(namespace: string, selector: Record<string, string>): WorkloadInfo[] {
    return this.workloads.filter((w) => (namespace === this.rootNamespace || w.namespace === namespace) && matchesLabels(selector, w.labels));
  }
}
