// The mutating webhook's decision for one AdmissionReview request on /inject: the injected pod as a JSONPatch, a
// pod left alone (allowed, no patch), or a refusal naming the annotation or port at fault.
import type { InjectSettings } from "./inject-settings.js";
import { injectPod, type PodLike } from "./inject-pod.js";

export const INJECT_PATH = "/inject";

interface InjectRequest {
  uid?: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  object?: unknown;
}

export interface InjectResponse {
  uid: string;
  allowed: boolean;
  patchType?: "JSONPatch";
  patch?: string;
  status?: { code: number; reason: string; message: string };
}

/**
 * One `add` per top-level field that changed: `add` replaces a member that exists (RFC 6902), so the patch applies
 * whether or not the pod had labels, annotations, init containers or volumes.
 */
export function podPatch(before: PodLike, after: PodLike): Array<{ op: "add"; path: string; value: unknown }> {
  const ops: Array<{ op: "add"; path: string; value: unknown }> = [];
  for (const [section, keys] of [["metadata", ["labels", "annotations"]], ["spec", ["initContainers", "containers", "volumes"]]] as const) {
    const b = (before[section] ?? {}) as Record<string, unknown>;
    const a = (after[section] ?? {}) as Record<string, unknown>;
    for (const k of keys) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) ops.push({ op: "add", path: `/${section}/${k}`, value: a[k] });
  }
  return ops;
}

export function admitInjection(request: InjectRequest, settings: InjectSettings, log: (line: string) => void = () => {}): InjectResponse {
  const uid = typeof request.uid === "string" ? request.uid : "";
  const refuse = (message: string, code = 400, reason = "BadRequest"): InjectResponse => ({ uid, allowed: false, status: { code, reason, message } });
  if (request.kind?.kind !== "Pod" || (request.kind.group ?? "") !== "") return refuse(`the injector mutates Pods, not ${request.kind?.kind ?? "an unnamed kind"}; fix the MutatingWebhookConfiguration's rules`);
  const obj = request.object;
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return refuse("admission request.object is not a Pod object: the injector cannot parse it");
  const pod = obj as PodLike;
  // A pod made from a template has no name yet; its namespace comes with the request.
  const name = pod.metadata?.name || `${pod.metadata?.generateName ?? ""}<generated>`;
  const who = `${request.namespace ?? pod.metadata?.namespace ?? "?"}/${name}`;
  const outcome = injectPod(pod, settings);
  if (outcome.action === "skipped") {
    log(`trellis control: injection: pod ${who} left alone: ${outcome.reason}`);
    return { uid, allowed: true };
  }
  if (outcome.action === "refused") {
    log(`trellis control: injection: pod ${who} refused: ${outcome.message}`);
    return refuse(`sidecar injection refused pod ${who}: ${outcome.message}`, 400, "Invalid");
  }
  return { uid, allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(podPatch(pod, outcome.pod))).toString("base64") };
}
