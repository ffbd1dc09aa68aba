// The istio-ca-root-cert ConfigMap (key root-cert.pem) in every namespace, as istiod's namespace controller keeps it:
// written when a namespace appears, restored when someone edits or deletes it, rewritten when the root rotates.
// Singleton work: only the leader runs it (start on leading, stop on losing the lease).
import { type KubeClient, KubeApiError, type KubeObject, type WatchEvent } from "./client.js";

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
  private abort?: AbortController;
  private readonly log: (line: string) => void;
  private readonly namespaces = new Set<string>();

  constructor(private readonly client: KubeClient, private readonly options: RootCertPublisherOptions) {
    this.log = options.log ?? ((l) => console.error(l));
  }

  start(): void {
    if (this.abort) return;
    const abort = new AbortController();
    this.abort = abort;
    void this.loop("namespaces", "/api/v1/namespaces", {}, abort.signal, (e) => this.onNamespace(e as WatchEvent));
    void this.loop("configmaps", "/api/v1/configmaps", { fieldSelector: `metadata.name=${ROOT_CERT_CONFIGMAP}` }, abort.signal, (e) => this.onConfigMap(e as WatchEvent<ConfigMap>));
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    this.namespaces.clear();
  }

  /** The root changed (rotation started or finished): every namespace gets the new bundle now. */
  async refresh(): Promise<void> {
    await Promise.all([...this.namespaces].map((ns) => this.ensure(ns)));
  }

  private onNamespace(e: WatchEvent): void {
    const ns = e.object.metadata.name;
    if (IGNORED.has(ns)) return;
    if (e.type === "DELETED" || e.object.metadata.deletionTimestamp) {
      this.namespaces.delete(ns);
      return;
    }
    if (e.type !== "ADDED" && e.type !== "MODIFIED") return;
    this.namespaces.add(ns);
    void this.ensure(ns);
  }

  private onConfigMap(e: WatchEvent<ConfigMap>): void {
    const ns = e.object.metadata.namespace ?? "";
    if (!this.namespaces.has(ns)) return;
    if (e.type === "DELETED" || ((e.type === "MODIFIED" || e.type === "ADDED") && e.object.data?.[ROOT_CERT_KEY] !== this.options.rootsPem())) void this.ensure(ns);
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
      // 409: someone wrote between our read and write (or the namespace is terminating); the watch brings it back.
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) return;
      if (err instanceof KubeApiError && err.status === 403 && /namespace .* is being terminated|forbidden: unable to create new content/i.test(err.message)) return;
      this.log(`trellis control: cannot write ConfigMap ${ns}/${ROOT_CERT_CONFIGMAP}: ${(err as Error).message}`);
    }
  }

  /** List then watch from the list's version, relisting after an error or a 410, with backoff; until aborted. */
  private async loop(what: string, path: string, query: Record<string, string>, signal: AbortSignal, onEvent: (e: WatchEvent) => void): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const list = await this.client.get<{ metadata: { resourceVersion?: string }; items: KubeObject[] }>(path, { query, signal });
        for (const item of list.items) onEvent({ type: "ADDED", object: item });
        failures = 0;
        let version = list.metadata.resourceVersion;
        while (!signal.aborted) {
          await this.client.watch(path, { ...query, resourceVersion: version, allowWatchBookmarks: true, timeoutSeconds: 300 }, (e) => {
            if (e.type === "ERROR") throw new KubeApiError((e.object as unknown as { code?: number }).code ?? 0, "WatchError", `watch ${what}: ${JSON.stringify(e.object).slice(0, 200)}`, "watch", path);
            version = e.object.metadata.resourceVersion ?? version;
            if (e.type !== "BOOKMARK") onEvent(e);
          }, signal);
        }
      } catch (err) {
        if (signal.aborted) return;
        if (!(err instanceof KubeApiError && err.status === 410)) this.log(`trellis control: root-cert publisher: ${what}: ${(err as Error).message}; retrying`);
        const delay = Math.min(30_000, (this.options.retryBaseMs ?? 500) * 2 ** Math.min(failures++, 6));
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }
}
