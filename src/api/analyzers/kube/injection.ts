// Sidecar injection as the inputs show it, after istioctl analyze: a namespace that asks for no injection (IST0102),
// one with both the istio-injection and istio.io/rev labels (IST0123), a pod of an injected namespace running without
// its sidecar (IST0103), and an application running as uid 1337, the sidecar's own, whose traffic the interception
// rules would let bypass the proxy (IST0144).
import { annotationsOf, isSystemNamespace, type KubeObject, labelsOf, list, nameOf, namespaceOf, obj, ofKind, type ObjectReport } from "./objects.js";

const PROXY_UID = 1337;

/** Namespaces whose pods get a sidecar: istio-injection=enabled, or an istio.io/rev label (a revision's injector). */
export function injectedNamespaces(objects: KubeObject[]): Set<string> {
  const out = new Set<string>();
  for (const ns of ofKind(objects, "Namespace")) {
    const labels = labelsOf(ns);
    if (labels["istio-injection"] === "enabled" || labels["istio.io/rev"] !== undefined) out.add(nameOf(ns));
  }
  return out;
}

function namespaces(objects: KubeObject[], report: ObjectReport): void {
  for (const ns of ofKind(objects, "Namespace")) {
    const name = nameOf(ns);
    if (isSystemNamespace(name)) continue;
    const labels = labelsOf(ns);
    const legacy = labels["istio-injection"];
    const revision = labels["istio.io/rev"];
    if (legacy === undefined && revision === undefined) {
      report(ns, "TRL1041", "metadata.labels", `namespace ${name} is not labelled for injection, so its pods get no sidecar; label it istio-injection=enabled (or istio.io/rev=REVISION) if it belongs in the mesh`);
    } else if (legacy !== undefined && revision !== undefined) {
      report(ns, "TRL1043", "metadata.labels", `namespace ${name} has both istio-injection=${legacy} and istio.io/rev=${revision}; istio-injection wins and the revision is ignored. Keep one of the two`);
    }
  }
}

const hasProxy = (spec: Record<string, unknown>) =>
  list(spec.containers).some((c) => c.name === "istio-proxy") || list(spec.initContainers).some((c) => c.name === "istio-proxy" && c.restartPolicy === "Always");

function missingProxies(objects: KubeObject[], report: ObjectReport): void {
  const injected = injectedNamespaces(objects);
  for (const pod of ofKind(objects, "Pod")) {
    if (!injected.has(namespaceOf(pod))) continue;
    const inject = labelsOf(pod)["sidecar.istio.io/inject"] ?? annotationsOf(pod)["sidecar.istio.io/inject"];
    const spec = obj(pod.spec);
    if (inject?.toLowerCase() === "false" || spec.hostNetwork === true || hasProxy(spec)) continue;
    report(pod, "TRL1042", "spec.containers", `pod ${namespaceOf(pod)}/${nameOf(pod)} runs without its sidecar though its namespace asks for injection (it was probably created before the label or the injector); restart it (e.g. kubectl rollout restart) so it is injected`);
  }
}

/** Where a pod spec runs an application container as the sidecar's uid: the pod's securityContext or a container's. */
function uidPaths(spec: Record<string, unknown>, prefix: string): string[] {
  const out: string[] = [];
  if (obj(spec.securityContext).runAsUser === PROXY_UID) out.push(`${prefix}.securityContext.runAsUser`);
  list(spec.containers).forEach((c, i) => {
    if (c.name !== "istio-proxy" && obj(c.securityContext).runAsUser === PROXY_UID) out.push(`${prefix}.containers[${i}].securityContext.runAsUser`);
  });
  return out;
}

function applicationUids(objects: KubeObject[], report: ObjectReport): void {
  const specs: Array<[KubeObject, Record<string, unknown>, string]> = [
    ...ofKind(objects, "Pod").map((p): [KubeObject, Record<string, unknown>, string] => [p, obj(p.spec), "spec"]),
    ...ofKind(objects, "Deployment").map((d): [KubeObject, Record<string, unknown>, string] => [d, obj(obj(obj(d.spec).template).spec), "spec.template.spec"]),
  ];
  for (const [o, spec, prefix] of specs) {
    for (const path of uidPaths(spec, prefix)) {
      report(o, "TRL1044", path, `runs the application as uid ${PROXY_UID}, the sidecar's own: the interception rules let that uid's traffic bypass the proxy, so it leaves without mTLS or policy. Use another uid`);
    }
  }
}

export function analyzeInjection(objects: KubeObject[], report: ObjectReport): void {
  namespaces(objects, report);
  missingProxies(objects, report);
  applicationUids(objects, report);
}
