// Offline injection of Kubernetes manifests (`trellis kube-inject`): each Pod, and each workload's pod template
// (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob), goes through the webhook's own injectPod.
import { parseAllDocuments, stringify } from "yaml";
import type { InjectSettings } from "./inject-settings.js";
import { injectPod, type PodLike } from "./inject-pod.js";

const TEMPLATE_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController", "DeploymentConfig"]);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Where the pod lives in this object, or undefined for kinds without one (passed through unchanged). */
function podHolder(o: Obj): { get(): PodLike; set(p: PodLike): void } | undefined {
  const spec = isObject(o.spec) ? o.spec : undefined;
  if (o.kind === "Pod") return { get: () => o as PodLike, set: (p) => Object.assign(o, p) };
  const template = o.kind === "CronJob" ? (isObject(spec?.jobTemplate) && isObject(spec.jobTemplate.spec) ? spec.jobTemplate.spec.template : undefined) : TEMPLATE_KINDS.has(String(o.kind)) ? spec?.template : undefined;
  if (!isObject(template)) return undefined;
  return {
    get: () => ({ metadata: { namespace: (o.metadata as Obj | undefined)?.namespace as string | undefined, ...(template.metadata as Obj | undefined) }, spec: template.spec as PodLike["spec"] }),
    set: (p) => {
      const { namespace: _ns, ...metadata } = p.metadata ?? {};
      template.metadata = metadata;
      template.spec = p.spec;
    },
  };
}

export interface ManifestResult {
  yaml: string;
  injected: string[];
  skipped: string[];
}

/** Injects every pod in the YAML stream; throws with the object's kind/name and the refusal when one is refused. */
export function injectManifests(text: string, settings: InjectSettings, source: string): ManifestResult {
  const docs = parseAllDocuments(text);
  const out: string[] = [];
  const injected: string[] = [];
  const skipped: string[] = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length) throw new Error(`${source}: document ${i + 1} is not YAML: ${doc.errors[0].message}`);
    const obj: unknown = doc.toJS();
    if (obj === null || obj === undefined) return;
    if (!isObject(obj)) throw new Error(`${source}: document ${i + 1} is not a Kubernetes object`);
    const who = `${String(obj.kind)} ${String((obj.metadata as Obj | undefined)?.name ?? "(unnamed)")}`;
    const holder = podHolder(obj);
    if (holder) {
      const outcome = injectPod(holder.get(), settings);
      if (outcome.action === "refused") throw new Error(`${source}: ${who}: ${outcome.message}`);
      if (outcome.action === "skipped") skipped.push(`${who}: ${outcome.reason}`);
      else {
        holder.set(outcome.pod);
        injected.push(who);
      }
    }
    out.push(stringify(obj, { lineWidth: 0 }));
  });
  return { yaml: out.join("---\n"), injected, skipped };
}
