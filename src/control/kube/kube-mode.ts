// `trellis control --kubeconfig FILE` (or in a pod): the API server as the store (Istio's CRDs) and the registry
// (Services, EndpointSlices, Pods, Nodes, Namespaces), assembled here so the control plane only asks for workloads,
// resources and a connecting proxy's workload. An API server that is down at start is waited for (bounded), then
// retried with backoff in the background: the control plane serves and proxies keep their last config meanwhile.
import { EventEmitter } from "node:events";
import type { IstioResource } from "../../api/resource.js";
import type { ConnectedProxy, NodeInfo } from "../../xds/ads-server.js";
import type { Workload } from "../registry/registry.js";
import { KubeClient } from "./client.js";
import { inClusterConnection, KubeconfigError, loadKubeconfig, type KubeConnection } from "./kubeconfig.js";
import { KubeRegistry } from "./kube-registry.js";
import { KubeStore } from "./kube-store.js";
import type { LabelSelector } from "./label-selector.js";

export interface KubeModeOptions {
  discoverySelectors?: LabelSelector[];
  log?: (line: string) => void;
  /** How long start() waits for the first list of everything before serving anyway (default 30 s). */
  syncTimeoutMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** --kubeconfig FILE [--kube-context C], else the pod's own service account; undefined when neither applies. */
export function kubeConnection(kubeconfig: string | undefined, context: string | undefined): KubeConnection | undefined {
  if (kubeconfig) return loadKubeconfig(kubeconfig, context);
  if (context) throw new KubeconfigError("--kube-context needs --kubeconfig FILE (in a pod, the service account's cluster is the only one)");
  return inClusterConnection();
}

/** Emits "change" when anything translation reads changed. */
export class KubeMode extends EventEmitter {
  readonly client: KubeClient;
  readonly store: KubeStore;
  readonly registry: KubeRegistry;
  /** Proxies not (yet) matched to a pod, with why: logged when the reason changes, not on every pass. */
  private readonly unmatched = new Map<string, string>();
  private readonly log: (line: string) => void;

  constructor(connection: KubeConnection, private readonly opts: KubeModeOptions = {}) {
    super();
    this.log = opts.log ?? ((l) => console.error(l));
    this.client = new KubeClient(connection);
    const backoff = { initialBackoffMs: opts.initialBackoffMs, maxBackoffMs: opts.maxBackoffMs };
    const selected = (ns: string) => this.registry.selected(ns);
    this.store = new KubeStore(this.client, { log: this.log, namespaceFilter: opts.discoverySelectors?.length ? selected : undefined, ...backoff });
    this.registry = new KubeRegistry(this.client, () => this.emit("change"), { discoverySelectors: opts.discoverySelectors, log: this.log, ...backoff });
  }

  get source(): string {
    return this.client.connection.source;
  }

  async start(): Promise<void> {
    this.log(`trellis control: Kubernetes mode: API server ${this.client.connection.server} (${this.source})`);
    this.store.start();
    this.registry.start();
    const timeout = this.opts.syncTimeoutMs ?? 30_000;
    const results = await Promise.allSettled([this.registry.waitSynced(timeout), this.store.waitSynced(timeout)]);
    for (const r of results) {
      if (r.status === "rejected") this.log(`trellis control: serving without a complete view of the cluster (still retrying in the background): ${(r.reason as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.store.stop(), this.registry.stop()]);
    this.client.close();
  }

  get synced(): boolean {
    return this.store.synced && this.registry.synced;
  }

  workloads(): Workload[] {
    return this.registry.workloads();
  }

  resources(): IstioResource[] {
    return this.registry.resources();
  }

  proxyWorkload(node: NodeInfo, identity: string | undefined): { workload?: Workload; error?: string } {
    return this.registry.proxyWorkload(node, identity);
  }

  /**
   * Re-derives every connected proxy's workload from its pod (labels or readiness may have changed, a pod may have
   * appeared since its proxy connected) into `connected`; a proxy with no pod gets no configuration.
   */
  resolveProxies(proxies: ConnectedProxy[], connected: Map<string, Workload>): void {
    const live = new Set<string>();
    const proven: string[] = [];
    for (const p of proxies) {
      live.add(p.node.id);
      const { workload, error } = this.proxyWorkload(p.node, p.identity);
      if (!workload) {
        connected.delete(p.node.id);
        if (this.unmatched.get(p.node.id) !== error) this.log(`trellis control: not configuring ${error}`);
        this.unmatched.set(p.node.id, error!);
        continue;
      }
      if (this.unmatched.delete(p.node.id)) this.log(`trellis control: proxy ${p.node.id} matched to pod ${workload.namespace}/${workload.name}`);
      connected.set(p.node.id, workload);
      if (p.identity) proven.push(`${workload.namespace}/${workload.name}`);
    }
    for (const id of this.unmatched.keys()) if (!live.has(id)) this.unmatched.delete(id);
    this.registry.setMtlsPods(proven);
  }
}
