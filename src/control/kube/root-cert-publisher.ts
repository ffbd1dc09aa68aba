// The istio-ca-root-cert ConfigMap (key root-cert.pem) in every namespace, as istiod's namespace controller keeps it:
// written when a namespace appears, restored when someone edits or deletes it, rewritten when the root rotates.
// Singleton work: only the leader runs it (start on leading, stop on losing the lease).
import { type KubeClient, KubeApiError, type KubeObject } from "./client.js";
import { Reflector, type ReflectorEvent } from "./reflector.js";

export const ROOT_CERT_CONFIGMAP = "istio-ca-root-cert";
export const ROOT_CERT_KEY = "root-cert.pem";
/** Istio's inject.IgnoredNamespaces: the system namespaces no workload of the mesh runs in. */
const IGNORED = new Set(["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]);

type ConfigMap = KubeObject & { data?: Record<string, string> };

export interface RootCertPublisherOptions {
  /** The mesh's trust bundle as PEM (during a root rotation: both roots). Read at each write. */
  rootsPem(): string;
  log?(line: string): void;
  /** Delay before a failed list or watch is retried, doubling up to 30 s. */
  retryBaseMs?: number;
}

export class RootCertPublisher {
  private reflectors?: { namespaces: Reflector; configMaps: Reflector<ConfigMap> };
  private readonly log: (line: string) => void;

  constructor(private readonly client: KubeClient, private readonly options: RootCertPublisherOptions) {
    this.log = options.log ?? ((l) => console.error(l));
  }

  start(): void {
    if (this.reflectors) return;
    const backoff = { initialBackoffMs: this.options.retryBaseMs ?? 500, log: this.log };
    const namespaces = new Reflector(this.client, { path: "/api/v1/namespaces", ...backoff });
    const configMaps = new Reflector<ConfigMap>(this.client, { path: "/api/v1/configmaps", fieldSelector: `metadata.name=${ROOT_CERT_CONFIGMAP}`, ...backoff });
    namespaces.on("event", (e: ReflectorEvent<KubeObject>) => this.onNamespace(e));
    configMaps.on("event", (e: ReflectorEvent<ConfigMap>) => this.onConfigMap(e));
    this.reflectors = { namespaces, configMaps };
    namespaces.start();
    configMaps.start();
  }

  stop(): void {
    const r = this.reflectors;
    this.reflectors = undefined;
    void r?.namespaces.stop();
    void r?.configMaps.stop();
  }

  /** The root changed (rotation started or finished): every namespace gets the new bundle now. */
  async refresh(): Promise<void> {
    await Promise.all((this.reflectors?.namespaces.list() ?? []).filter(served).map((ns) => this.ensure(ns.metadata.name)));
  }

  private onNamespace(e: ReflectorEvent<KubeObject>): void {
    if (e.type !== "DELETED" && served(e.object)) void this.ensure(e.object.metadata.name);
  }

  private onConfigMap(e: ReflectorEvent<ConfigMap>): void {
    const ns = this.reflectors?.namespaces.get(e.object.metadata.namespace ?? "");
    if (!ns || !served(ns)) return;
    if (e.type === "DELETED" || e.object.data?.[ROOT_CERT_KEY] !== this.options.rootsPem()) void this.ensure(ns.metadata.name);
  }

  /** Creates or corrects the ConfigMap in `ns`; errors are logged (the watch brings the next chance). */
  private async ensure(ns: string): Promise<void> {
    const pem = this.options.rootsPem();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    try {
      const cm = await this.client.find<ConfigMap>(`${path}/${ROOT_CERT_CONFIGMAP}`);
      if (cm?.data?.[ROOT_CERT_KEY] === pem) return;
      const body = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: ROOT_CERT_CONFIGMAP, namespace: ns, labels: { "istio.io/config": "true" }, ...(cm ? { resourceVersion: cm.metadata.resourceVersion } : {}) }, data: { ...cm?.data, [ROOT_CERT_KEY]: pem } };
      if (cm) await this.client.request("PUT", `${path}/${ROOT_CERT_CONFIGMAP}`, { body });
      else await this.client.request("POST", path, { body });
    } catch (err) {
      // 409: someone wrote between our read and write; 404: the namespace went away. The watch brings the next pass.
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) return;
      if (err instanceof KubeApiError && err.status === 403 && /being terminated/i.test(err.message)) return;
      this.log(`trellis control: cannot write ConfigMap ${ns}/${ROOT_CERT_CONFIGMAP}: ${(err as Error).message}`);
    }
  }
}

/** A namespace that gets the ConfigMap: not a system one, not being deleted. */
function served(ns: KubeObject): boolean {
  return !IGNORED.has(ns.metadata.name) && !ns.metadata.deletionTimestamp;
}
