// Istio's CRDs on the Kubernetes API server as Trellis's config store: one reflector per kind keeps the resources in
// memory (reads never wait on the network), writes go to the API server and are applied to the cache at once so a
// `trellis apply` followed by `trellis get` reads what it wrote. The Gateway API's kinds are watched too, each at a
// version the cluster serves, once their CRDs are there (looked for at start and every half minute until found):
// a cluster without them is common and must not hold the control plane's start.
import { EventEmitter } from "node:events";
import { KINDS, type KindInfo } from "../../api/kinds.js";
import { storeKind, storeKindOf } from "../../api/store-kind.js";
import type { IstioResource } from "../../api/resource.js";
import { ConflictError, type ConfigStore, NotFoundError, type PutOptions, type StoreEvent } from "../store/config-store.js";
import { KubeApiError, type KubeClient, type KubeObject } from "./client.js";
import { GATEWAY_API_KINDS, servedGatewayApiKinds } from "./gateway-api-discovery.js";
import { Reflector, type ReflectorEvent } from "./reflector.js";


export const CRD_INSTALL_HINT = 'install them with "trellis install-crds --kubeconfig FILE" (or "kubectl apply --server-side -f manifests/crds/istio-crds.yaml")';
const GATEWAY_API_HINT = "install the Gateway API CRDs (kubectl apply --server-side -f the standard-install.yaml of a gateway-api release)";

/** A 404 on a kind's collection means its CRD is not installed: say so, and how to fix it. */
export function explainCrdError(info: KindInfo, err: Error): string | undefined {
  if (err instanceof KubeApiError && err.status === 404 && !/\/namespaces\//.test(err.path)) {
    const istio = String(info.group).endsWith(".istio.io");
    return `${istio ? "Istio's" : "The"} CRD ${info.plural}.${info.group} is not installed in the cluster (the API server does not serve ${err.path}): ${istio ? CRD_INSTALL_HINT : GATEWAY_API_HINT}`;
  }
  return undefined;
}

/** The object as Trellis stores it: the API server's bookkeeping fields (managedFields) left out. */
function toResource(o: KubeObject): IstioResource {
  const { managedFields: _managed, ...metadata } = o.metadata as KubeObject["metadata"] & { managedFields?: unknown };
  return { ...o, metadata } as unknown as IstioResource;
}

/** A kind's collection; cluster-scoped kinds (GatewayClass) live outside namespaces. */
function collectionPath(info: KindInfo, version: string, namespace: string): string {
  return info.namespaced ? `/apis/${info.group}/${version}/namespaces/${encodeURIComponent(namespace)}/${info.plural}` : `/apis/${info.group}/${version}/${info.plural}`;
}

function servedVersion(info: KindInfo, apiVersion: string | undefined): string {
  const v = apiVersion?.split("/")[1];
  return v && info.versions.includes(v) ? v : info.versions[0];
}

export interface KubeStoreOptions {
  log?: (line: string) => void;
  /** Only resources in namespaces this accepts are seen (MeshConfig discoverySelectors). */
  namespaceFilter?: (namespace: string) => boolean;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often a cluster without (some of) the Gateway API's CRDs is asked again (default 30 s). */
  gatewayApiRecheckMs?: number;
}

export class KubeStore extends EventEmitter implements ConfigStore {
  private readonly reflectors = new Map<string, { info: KindInfo; reflector: Reflector; version: string }>();
  private revision = 0;
  private started = false;
  private gatewayApiTimer: NodeJS.Timeout | undefined;
  private gatewayApiMissing = "";

  constructor(private readonly client: KubeClient, private readonly opts: KubeStoreOptions = {}) {
    super();
    // Istio's kinds at once: their CRDs are the install's (trellis install-crds); the Gateway API's when found.
    for (const info of KINDS.filter((k) => k.group.endsWith(".istio.io"))) this.addReflector(info, info.versions[0]);
  }

  private addReflector(info: KindInfo, version: string): Reflector {
    const reflector = new Reflector(this.client, {
      path: `/apis/${info.group}/${version}/${info.plural}`, log: this.opts.log, explain: (err) => explainCrdError(info, err),
      initialBackoffMs: this.opts.initialBackoffMs, maxBackoffMs: this.opts.maxBackoffMs,
    });
    reflector.on("event", (e: ReflectorEvent<KubeObject>) => {
      this.revision++;
      const object = toResource(e.object);
      if (this.visible(object)) this.emit("event", { type: e.type, object } satisfies StoreEvent);
    });
    this.reflectors.set(storeKind(info), { info, reflector, version });
    return reflector;
  }

  start(): void {
    this.started = true;
    for (const { reflector } of this.reflectors.values()) reflector.start();
    void this.watchGatewayApi();
  }

  private get recheckMs(): number {
    return this.opts.gatewayApiRecheckMs ?? 30_000;
  }

  /** Starts a reflector for each Gateway API kind the cluster serves now; asks again later while some are missing. */
  private async watchGatewayApi(): Promise<void> {
    if (!this.started) return;
    try {
      const served = await servedGatewayApiKinds(this.client);
      for (const [info, version] of served) if (!this.reflectors.has(storeKind(info))) this.addReflector(info, version).start();
      const missing = GATEWAY_API_KINDS.filter((k) => !served.has(k)).map((k) => k.plural).join(", ");
      if (missing && missing !== this.gatewayApiMissing) this.opts.log?.(`trellis control: the cluster serves no Gateway API ${missing} (their CRDs are not installed); looking again every ${this.recheckMs / 1000} s: ${GATEWAY_API_HINT}`);
      this.gatewayApiMissing = missing;
      if (!missing) return;
    } catch (err) {
      this.opts.log?.(`trellis control: cannot ask which Gateway API kinds the cluster serves (asking again in ${this.recheckMs / 1000} s): ${(err as Error).message}`);
    }
    if (!this.started) return;
    this.gatewayApiTimer = setTimeout(() => void this.watchGatewayApi(), this.recheckMs);
    this.gatewayApiTimer.unref();
  }

  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.gatewayApiTimer);
    await Promise.all([...this.reflectors.values()].map(({ reflector }) => reflector.stop()));
  }

  /** Resolves when every kind has been listed once; rejects after timeoutMs naming the kinds not yet listed and why. */
  async waitSynced(timeoutMs: number): Promise<void> {
    const results = await Promise.allSettled([...this.reflectors.values()].map(({ reflector }) => reflector.waitSynced(timeoutMs)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => (r.reason as Error).message);
    if (failed.length) throw new Error(`Istio resources not listed yet:\n  ${failed.join("\n  ")}`);
  }

  get synced(): boolean {
    return [...this.reflectors.values()].every(({ reflector }) => reflector.synced);
  }

  private visible(r: IstioResource): boolean {
    return !this.opts.namespaceFilter || this.opts.namespaceFilter(r.metadata.namespace ?? "default");
  }

  list(kind?: string, namespace?: string): IstioResource[] {
    const out: IstioResource[] = [];
    for (const [k, { reflector }] of this.reflectors) {
      if (kind && k !== kind) continue;
      for (const o of reflector.list()) {
        const r = toResource(o);
        if ((!namespace || r.metadata.namespace === namespace) && this.visible(r)) out.push(r);
      }
    }
    const key = (r: IstioResource) => `${storeKindOf(r)}/${r.metadata.namespace}/${r.metadata.name}`;
    return out.sort((a, b) => key(a).localeCompare(key(b)));
  }

  get(kind: string, namespace: string, name: string): IstioResource | undefined {
    const entry = this.reflectors.get(kind);
    const o = entry?.reflector.get(entry.info.namespaced ? `${namespace}/${name}` : name);
    const r = o && toResource(o);
    return r && this.visible(r) ? r : undefined;
  }

  version(): number {
    return this.revision;
  }

  async put(resource: IstioResource, opts: PutOptions = {}): Promise<IstioResource> {
    const entry = this.reflectors.get(storeKindOf(resource));
    if (!entry) throw new Error(`${resource.kind} is not a kind Trellis stores; kinds: ${KINDS.map((k) => k.kind).join(", ")}`);
    const { info, reflector } = entry;
    const ns = resource.metadata.namespace ?? "default";
    // Istio's kinds at the version written (every one is served); the Gateway API's at the version the cluster serves.
    const version = info.group.endsWith(".istio.io") ? servedVersion(info, resource.apiVersion) : entry.version;
    const collection = collectionPath(info, version, ns);
    const { name, labels, annotations } = resource.metadata;
    const body = { ...resource, apiVersion: `${info.group}/${version}`, metadata: { name, ...(info.namespaced ? { namespace: ns } : {}), ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) } };
    const what = `${resource.kind} ${ns}/${name}`;
    let stored: KubeObject;
    try {
      if (opts.mustNotExist) stored = await this.client.request<KubeObject>("POST", collection, { body });
      else if (opts.expectVersion !== undefined) stored = await this.client.request<KubeObject>("PUT", `${collection}/${encodeURIComponent(name)}`, { body: { ...body, metadata: { ...body.metadata, resourceVersion: opts.expectVersion } } });
      else stored = await this.upsert(collection, body);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) {
        throw new ConflictError(opts.mustNotExist ? `${what} already exists; use PUT to replace it` : `${what} was changed since version ${opts.expectVersion}; read it again and retry`, { cause: err });
      }
      throw err;
    }
    reflector.observe(stored);
    return toResource(stored);
  }

  /** Create, or replace whatever is there now (retrying when another writer gets in between). */
  private async upsert(collection: string, body: KubeObject): Promise<KubeObject> {
    const path = `${collection}/${encodeURIComponent(body.metadata.name)}`;
    for (let attempt = 1; ; attempt++) {
      try {
        const current = await this.client.find<KubeObject>(path);
        if (!current) return await this.client.request<KubeObject>("POST", collection, { body });
        return await this.client.request<KubeObject>("PUT", path, { body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata.resourceVersion } } });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409) || attempt >= 5) throw err;
      }
    }
  }

  async delete(kind: string, namespace: string, name: string): Promise<IstioResource> {
    const entry = this.reflectors.get(kind);
    if (!entry) throw new NotFoundError(`${kind} is not a kind Trellis stores`);
    const { info, reflector, version } = entry;
    const key = info.namespaced ? `${namespace}/${name}` : name;
    const prev = reflector.get(key);
    try {
      const gone = await this.client.request<KubeObject>("DELETE", `${collectionPath(info, version, namespace)}/${encodeURIComponent(name)}`);
      reflector.forget(key);
      return toResource(prev ?? gone);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) throw new NotFoundError(`${kind}/${namespace}/${name} does not exist`, { cause: err });
      throw err;
    }
  }
}
