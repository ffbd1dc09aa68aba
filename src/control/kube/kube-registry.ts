// Kubernetes discovery: reflectors on Services, EndpointSlices, Pods, Nodes and Namespaces, read into the Workload
// list translation consumes (rebuilt lazily after a change) and the pods proxies are matched to. MeshConfig
// discoverySelectors limit which namespaces are seen.
import type { IstioResource } from "../../api/resource.js";
import type { NodeInfo } from "../../xds/ads-server.js";
import type { Workload } from "../registry/registry.js";
import type { KubeClient, KubeObject } from "./client.js";
import { endpointlessEntries, externalNameEntries, kubeWorkloads } from "./kube-workloads.js";
import { type LabelSelector, namespaceSelected } from "./label-selector.js";
import { proxyWorkload } from "./proxy-pod.js";
import { Reflector } from "./reflector.js";

export interface KubeRegistryOptions {
  discoverySelectors?: LabelSelector[];
  log?: (line: string) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

const PATHS = {
  services: "/api/v1/services",
  slices: "/apis/discovery.k8s.io/v1/endpointslices",
  pods: "/api/v1/pods",
  nodes: "/api/v1/nodes",
  namespaces: "/api/v1/namespaces",
} as const;

export class KubeRegistry {
  private readonly reflectors: Record<keyof typeof PATHS, Reflector>;
  private cached?: Workload[];
  /** Pods by ns/name and nodes by name, rebuilt after a change (proxies are matched on every recompute). */
  private index?: { pods: Map<string, KubeObject>; nodes: Map<string, KubeObject> };
  private readonly mtlsPods = new Set<string>();

  constructor(client: KubeClient, private readonly onChange: () => void, private readonly opts: KubeRegistryOptions = {}) {
    const make = (path: string) => {
      const r = new Reflector(client, { path, log: opts.log, initialBackoffMs: opts.initialBackoffMs, maxBackoffMs: opts.maxBackoffMs });
      r.on("event", () => this.changed());
      return r;
    };
    this.reflectors = { services: make(PATHS.services), slices: make(PATHS.slices), pods: make(PATHS.pods), nodes: make(PATHS.nodes), namespaces: make(PATHS.namespaces) };
  }

  start(): void {
    for (const r of Object.values(this.reflectors)) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.reflectors).map((r) => r.stop()));
  }

  async waitSynced(timeoutMs: number): Promise<void> {
    const results = await Promise.allSettled(Object.values(this.reflectors).map((r) => r.waitSynced(timeoutMs)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => (r.reason as Error).message);
    if (failed.length) throw new Error(`Kubernetes discovery not listed yet:\n  ${failed.join("\n  ")}`);
  }

  get synced(): boolean {
    return Object.values(this.reflectors).every((r) => r.synced);
  }

  private changed(): void {
    this.cached = undefined;
    this.index = undefined;
    this.onChange();
  }

  /** Whether the mesh sees this namespace: every one without discoverySelectors, else those a selector matches. */
  selected(namespace: string): boolean {
    if (!this.opts.discoverySelectors?.length) return true;
    const ns = this.reflectors.namespaces.get(namespace);
    return !!ns && namespaceSelected(this.opts.discoverySelectors, ns.metadata.labels ?? {});
  }

  private indexed(): { pods: Map<string, KubeObject>; nodes: Map<string, KubeObject> } {
    const byKey = (r: Reflector) => new Map(r.list().map((o) => [o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name, o]));
    this.index ??= { pods: byKey(this.reflectors.pods), nodes: byKey(this.reflectors.nodes) };
    return this.index;
  }

  /** Every Service endpoint in the selected namespaces. */
  workloads(): Workload[] {
    this.cached ??= kubeWorkloads({
      services: this.reflectors.services.list(), slices: this.reflectors.slices.list(),
      ...this.indexed(),
      selected: (ns) => this.selected(ns), mtlsPods: this.mtlsPods,
    });
    return this.cached;
  }

  /** Config the cluster implies beyond Istio's CRDs: ExternalName Services, and Services without endpoints, as
   *  ServiceEntries. */
  resources(): IstioResource[] {
    const view = { services: this.reflectors.services.list(), selected: (ns: string) => this.selected(ns) };
    return [...externalNameEntries(view), ...endpointlessEntries(view, this.workloads())];
  }

  /** The connecting proxy's workload from its pod; a pod outside the selected namespaces is refused by name. */
  proxyWorkload(node: NodeInfo, identity: string | undefined): { workload?: Workload; error?: string } {
    const result = proxyWorkload(node, identity, { ...this.indexed(), services: this.reflectors.services.list() });
    if (result.workload && !this.selected(result.workload.namespace)) return { error: `proxy ${node.id}: namespace ${result.workload.namespace} is outside MeshConfig discoverySelectors` };
    return result;
  }

  /** The pods whose proxies proved their identity now (peers reach them with mutual TLS). */
  setMtlsPods(keys: Iterable<string>): void {
    const next = new Set(keys);
    if (next.size === this.mtlsPods.size && [...next].every((k) => this.mtlsPods.has(k))) return;
    this.mtlsPods.clear();
    for (const k of next) this.mtlsPods.add(k);
    this.changed();
  }
}
