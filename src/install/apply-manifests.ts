// Applies rendered chart objects to a cluster as `trellis install` does (istioctl's way, not a Helm release):
// Istio's CRDs first (until Established), then every object by server-side apply in Helm's kind order, then waits
// for each Deployment to be rolled out and Ready. Objects are owned by field manager "trellis-install".
import { type KubeClient, type KubeObject } from "../control/kube/client.js";
import { installCrds } from "../control/kube/crds.js";
import type { Manifest } from "./chart.js";

export const FIELD_MANAGER = "trellis-install";

/** REST collection of each kind the chart renders, and Helm's install order (the table's order). */
const KINDS: Record<string, { path: string; namespaced: boolean }> = {
  Namespace: { path: "/api/v1/namespaces", namespaced: false },
  PodDisruptionBudget: { path: "/apis/policy/v1/poddisruptionbudgets", namespaced: true },
  ServiceAccount: { path: "/api/v1/serviceaccounts", namespaced: true },
  Secret: { path: "/api/v1/secrets", namespaced: true },
  ConfigMap: { path: "/api/v1/configmaps", namespaced: true },
  ClusterRole: { path: "/apis/rbac.authorization.k8s.io/v1/clusterroles", namespaced: false },
  ClusterRoleBinding: { path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", namespaced: false },
  Role: { path: "/apis/rbac.authorization.k8s.io/v1/roles", namespaced: true },
  RoleBinding: { path: "/apis/rbac.authorization.k8s.io/v1/rolebindings", namespaced: true },
  Service: { path: "/api/v1/services", namespaced: true },
  Deployment: { path: "/apis/apps/v1/deployments", namespaced: true },
  MutatingWebhookConfiguration: { path: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", namespaced: false },
  ValidatingWebhookConfiguration: { path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", namespaced: false },
};
const ORDER = Object.keys(KINDS);

/** The object's REST path (`/api/v1/namespaces/NS/services/NAME`); a kind outside the table is refused by name. */
export function objectPath(o: KubeObject): string {
  const k = KINDS[o.kind ?? ""];
  if (!k) throw new Error(`${o.kind} ${o.metadata.name}: trellis install does not know this kind (it applies ${ORDER.join(", ")})`);
  if (!k.namespaced) return `${k.path}/${o.metadata.name}`;
  const [prefix, plural] = [k.path.slice(0, k.path.lastIndexOf("/")), k.path.slice(k.path.lastIndexOf("/") + 1)];
  return `${prefix}/namespaces/${o.metadata.namespace}/${plural}/${o.metadata.name}`;
}

/** Objects in Helm's install order (stable within a kind). */
export function installOrder(objects: KubeObject[]): KubeObject[] {
  return objects.map((o, i) => ({ o, i })).sort((a, b) => ORDER.indexOf(a.o.kind ?? "") - ORDER.indexOf(b.o.kind ?? "") || a.i - b.i).map((x) => x.o);
}

export interface ApplyReport { applied: string[]; crds: string[] }

/** CRDs, the namespace (when missing), then every object; `log` gets one line per object. */
export async function applyManifests(client: KubeClient, namespace: string, crds: KubeObject[], manifests: Manifest[], log: (line: string) => void): Promise<ApplyReport> {
  const crdNames = crds.length ? await installCrds(client, crds) : [];
  if (crds.length) log(`CustomResourceDefinitions: ${crds.length} applied and Established`);
  if (!(await client.find(`/api/v1/namespaces/${namespace}`))) {
    await client.request("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } } });
    log(`Namespace ${namespace} created`);
  }
  const applied: string[] = [];
  for (const o of installOrder(manifests.map((m) => m.object as unknown as KubeObject))) {
    await client.request("PATCH", objectPath(o), { body: o, contentType: "application/apply-patch+yaml", query: { fieldManager: FIELD_MANAGER, force: true } });
    const name = `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
    applied.push(name);
    log(`${name} applied`);
  }
  return { applied, crds: crdNames };
}

/**
 * Deletes what an earlier `trellis install` of this release and revision made and this rendering no longer has (a
 * PodDisruptionBudget after scaling to one replica, a disabled gateway), as istioctl install prunes. Only objects
 * labelled as this release's, by trellis (managed-by), of this revision are considered; Helm's are never touched.
 */
export async function pruneRelease(client: KubeClient, namespace: string, release: string, revision: string, manifests: Manifest[], log: (line: string) => void): Promise<string[]> {
  const keep = new Set(manifests.map((m) => objectPath(m.object as unknown as KubeObject)));
  const selector = `app.kubernetes.io/instance=${release},app.kubernetes.io/managed-by=trellis,istio.io/rev=${revision || "default"}`;
  const pruned: string[] = [];
  for (const [kind, k] of Object.entries(KINDS)) {
    if (kind === "Namespace") continue;
    const collection = k.namespaced ? `${k.path.slice(0, k.path.lastIndexOf("/"))}/namespaces/${namespace}/${k.path.slice(k.path.lastIndexOf("/") + 1)}` : k.path;
    const list = await client.get<{ items: KubeObject[] }>(collection, { query: { labelSelector: selector } });
    for (const o of list.items) {
      const path = `${collection}/${o.metadata.name}`;
      if (keep.has(path)) continue;
      await client.request("DELETE", path, { query: { propagationPolicy: "Background" } });
      pruned.push(`${kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`);
      log(`${pruned.at(-1)} pruned (no longer in the rendering)`);
    }
  }
  return pruned;
}

interface DeploymentStatus {
  metadata: { generation?: number };
  spec: { replicas?: number };
  status?: { observedGeneration?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number; replicas?: number };
}

/** Why a Deployment is not yet rolled out and Ready, or undefined when it is. */
export function notReady(d: DeploymentStatus): string | undefined {
  const want = d.spec.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return "the Deployment controller has not seen the latest spec";
  if ((s.updatedReplicas ?? 0) < want) return `${s.updatedReplicas ?? 0} of ${want} replicas updated`;
  if ((s.replicas ?? 0) > want) return `${(s.replicas ?? 0) - want} old replicas still terminating`;
  if ((s.readyReplicas ?? 0) < want) return `${s.readyReplicas ?? 0} of ${want} replicas ready`;
  return undefined;
}

/** Waits until every Deployment among the objects is Ready; throws naming the one that is not, and why. */
export async function waitForDeployments(client: KubeClient, manifests: Manifest[], timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const m of manifests) {
    const o = m.object as unknown as KubeObject;
    if (o.kind !== "Deployment") continue;
    let why: string | undefined = "not read yet";
    while (why) {
      why = notReady(await client.get<DeploymentStatus>(objectPath(o)));
      if (!why) break;
      if (Date.now() > deadline) throw new Error(`Deployment ${o.metadata.namespace}/${o.metadata.name} is not Ready after ${Math.round(timeoutMs / 1000)} s: ${why} (see its pods: kubectl -n ${o.metadata.namespace} get pods)`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    log(`Deployment ${o.metadata.namespace}/${o.metadata.name} is Ready`);
  }
}
