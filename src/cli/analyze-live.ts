// What `trellis analyze --kubeconfig` reads from a live cluster, as istioctl analyze does by default: every Istio and
// Gateway API resource the cluster serves, plus the Namespaces, Services, Pods, Deployments and Secrets the checks look at.
// A kind whose CRD is not installed is skipped and named; any other API error stops the analysis with its reason.
import { KINDS } from "../api/kinds.js";
import type { LoadedResource } from "../api/load.js";
import { KubeApiError, type KubeClient, type KubeObject } from "../control/kube/client.js";

export interface LiveInputs {
  resources: LoadedResource[];
  others: Array<Record<string, unknown>>;
  /** Kinds the cluster does not serve (CRD not installed), "VirtualService.networking.istio.io". */
  notServed: string[];
}

/** Kubernetes' own kinds the analyzer reads, and where they are listed. */
const CORE: Array<{ kind: string; apiVersion: string; prefix: string; plural: string; namespaced: boolean }> = [
  { kind: "Namespace", apiVersion: "v1", prefix: "/api/v1", plural: "namespaces", namespaced: false },
  { kind: "Service", apiVersion: "v1", prefix: "/api/v1", plural: "services", namespaced: true },
  { kind: "Pod", apiVersion: "v1", prefix: "/api/v1", plural: "pods", namespaced: true },
  { kind: "Deployment", apiVersion: "apps/v1", prefix: "/apis/apps/v1", plural: "deployments", namespaced: true },
  // Gateways' credentials are checked against them; their data stays in memory and is never printed.
  { kind: "Secret", apiVersion: "v1", prefix: "/api/v1", plural: "secrets", namespaced: true },
];

function listPath(prefix: string, plural: string, namespaced: boolean, namespace: string | undefined): string {
  return namespaced && namespace ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${prefix}/${plural}`;
}

const BUSY_RETRIES = 10;

/** A list, retried while the API server answers 429 (a CRD's storage still initializing, or load shedding). */
async function list(client: KubeClient, path: string): Promise<{ items?: KubeObject[] }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.get<{ items?: KubeObject[] }>(path);
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 429 || attempt >= BUSY_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** A list's items with the apiVersion and kind the API server leaves out of each item. */
async function items(client: KubeClient, path: string, apiVersion: string, kind: string): Promise<KubeObject[]> {
  return ((await list(client, path)).items ?? []).map((o) => ({ ...o, apiVersion, kind }));
}

function withoutManagedFields(metadata: KubeObject["metadata"]): KubeObject["metadata"] {
  const copy = { ...metadata } as Record<string, unknown>;
  delete copy.managedFields;
  return copy as KubeObject["metadata"];
}

export async function readLiveCluster(client: KubeClient, namespace?: string): Promise<LiveInputs> {
  const out: LiveInputs = { resources: [], others: [], notServed: [] };
  for (const k of KINDS) {
    const version = k.versions[0];
    try {
      const found = await items(client, listPath(`/apis/${k.group}/${version}`, k.plural, k.namespaced, namespace), `${k.group}/${version}`, k.kind);
      // Managed fields and status are the server's, not configuration: leave them out of what is analyzed.
      for (const o of found) out.resources.push({ apiVersion: o.apiVersion, kind: o.kind, metadata: withoutManagedFields(o.metadata), spec: o.spec ?? {} } as LoadedResource);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) out.notServed.push(`${k.kind}.${k.group}`);
      else throw err;
    }
  }
  for (const c of CORE) {
    // Namespaces are read whole even for one namespace: the checks need its labels.
    const path = c.kind === "Namespace" && namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}` : listPath(c.prefix, c.plural, c.namespaced, namespace);
    if (c.kind === "Namespace" && namespace) out.others.push({ ...(await client.get(path)), apiVersion: "v1", kind: "Namespace" });
    else out.others.push(...(await items(client, path, c.apiVersion, c.kind)));
  }
  return out;
}
