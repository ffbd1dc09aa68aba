// Sidecar injection of one pod, the one function the webhook and `trellis kube-inject` share: whether to inject
// (Istio's rules), then the pod with istio-init, istio-proxy, their volumes, rewritten probes, labels and annotations.
import { A, InjectRefusal, podInjectOptions } from "./annotations.js";
import type { InjectSettings } from "./inject-settings.js";
import { type ContainerLike, rewriteProbes } from "./probe-rewrite.js";
import { INIT_NAME, initContainer, RESERVED_PORTS, SIDECAR_NAME, sidecarContainer, sidecarVolumes, VOLUMES } from "./sidecar-template.js";

export interface PodLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { containers?: ContainerLike[]; initContainers?: ContainerLike[]; volumes?: Array<{ name: string }>; hostNetwork?: boolean; [k: string]: unknown };
  [k: string]: unknown;
}

export type InjectOutcome =
  | { action: "injected"; pod: PodLike }
  | { action: "skipped"; reason: string }
  | { action: "refused"; message: string };

/**
 * Whether this pod wants a sidecar, as far as the pod itself says (the namespace was chosen by the webhook's
 * selectors): the `sidecar.istio.io/inject` label wins over the annotation of the same name; hostNetwork pods and
 * pods injected already are left alone.
 */
export function injectionWanted(pod: PodLike): { wanted: true } | { wanted: false; reason: string } {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  if (pod.spec?.hostNetwork) return { wanted: false, reason: "the pod uses the host's network (hostNetwork), where interception would capture the node's traffic" };
  if (annotations[A.status] !== undefined) return { wanted: false, reason: `the pod is injected already (${A.status} is set)` };
  const said = labels[A.inject] ?? annotations[A.inject];
  if (said !== undefined && !["true", "false", "enabled", "disabled", "yes", "no", "on", "off", "y", "n"].includes(said.toLowerCase())) {
    return { wanted: false, reason: `${A.inject} "${said}" is neither true nor false; not injecting` };
  }
  if (said !== undefined && ["false", "disabled", "no", "off", "n"].includes(said.toLowerCase())) return { wanted: false, reason: `${labels[A.inject] !== undefined ? "label" : "annotation"} ${A.inject}=${said}` };
  return { wanted: true };
}

function checkPorts(containers: ContainerLike[]): void {
  for (const c of containers) {
    if (c.name === SIDECAR_NAME || c.name === INIT_NAME) throw new InjectRefusal(`container name ${c.name} is the one injection adds; rename the container`);
    for (const p of c.ports ?? []) {
      if (RESERVED_PORTS.includes(p.containerPort)) throw new InjectRefusal(`container ${c.name} uses port ${p.containerPort}, which the sidecar needs (${RESERVED_PORTS.join(", ")}); move the app to another port`);
    }
  }
}

/** Istio's canonical service labels: app.kubernetes.io/name, app, or the workload's name; version likewise. */
function canonicalLabels(pod: PodLike): Record<string, string> {
  const l = pod.metadata?.labels ?? {};
  const name = l["service.istio.io/canonical-name"] ?? l["app.kubernetes.io/name"] ?? l.app ?? (pod.metadata?.generateName ?? pod.metadata?.name ?? "").replace(/-[a-z0-9]{5,10}-?$|-$/, "");
  const revision = l["service.istio.io/canonical-revision"] ?? l["app.kubernetes.io/version"] ?? l.version ?? "latest";
  return { "service.istio.io/canonical-name": name, "service.istio.io/canonical-revision": revision };
}

/** As Istio names a pod's workload: its Deployment (the ReplicaSet's name less its pod-template-hash), else its owner, else itself. */
export function workloadName(pod: PodLike): string {
  const meta = pod.metadata ?? {};
  const owner = (meta.ownerReferences as Array<{ kind?: string; name?: string; controller?: boolean }> | undefined)?.find((o) => o.controller) ?? (meta.ownerReferences as Array<{ kind?: string; name?: string }> | undefined)?.[0];
  const hash = meta.labels?.["pod-template-hash"];
  if (owner?.name) return owner.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner.name;
  return meta.name || (meta.generateName ?? "").replace(/-$/, "") || "unknown";
}

/** The app's own prometheus.io annotations are kept for the sidecar to merge; the pod's then point at 15020. */
function metricsAnnotations(annotations: Record<string, string>): { merged: Record<string, string>; app?: { port: string; path: string } } {
  const merged = { "prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus" };
  if (annotations["prometheus.io/scrape"] === "false") return { merged: {} };
  const port = annotations["prometheus.io/port"];
  const app = annotations["prometheus.io/scrape"] === "true" && port ? { port, path: annotations["prometheus.io/path"] ?? "/metrics" } : undefined;
  if (app && !/^\d+$/.test(app.port)) throw new InjectRefusal(`annotation prometheus.io/port "${port}" must be a port number for the sidecar to merge the app's metrics`);
  return { merged, app };
}

export function injectPod(pod: PodLike, settings: InjectSettings): InjectOutcome {
  const want = injectionWanted(pod);
  if (!want.wanted) return { action: "skipped", reason: want.reason };
  try {
    const spec = pod.spec ?? {};
    const apps = spec.containers ?? [];
    if (!apps.length) throw new InjectRefusal("spec.containers is empty: there is no app to put a sidecar beside");
    checkPorts([...apps, ...(spec.initContainers ?? [])]);
    const taken = (spec.volumes ?? []).map((v) => v.name).filter((n) => VOLUMES.includes(n));
    if (taken.length) throw new InjectRefusal(`volume ${taken[0]} is one injection adds; rename the pod's volume`);
    const annotations = pod.metadata?.annotations ?? {};
    const options = podInjectOptions(annotations, settings);
    const { containers, probers } = rewriteProbes(apps);
    const metrics = metricsAnnotations(annotations);
    const inputs = { settings, options, appContainers: apps.map((c) => ({ name: c.name, ports: c.ports })), probers, appMetrics: metrics.app, workloadName: workloadName(pod) };
    const sidecar = sidecarContainer(inputs, options.nativeSidecar);
    const init = [initContainer(inputs), ...(options.nativeSidecar ? [sidecar] : [])];
    // Without native sidecars, holdApplicationUntilProxyStarts puts the sidecar first so its postStart hook gates the app.
    const hold = options.proxy.holdApplicationUntilProxyStarts && !options.nativeSidecar;
    const status = { initContainers: [INIT_NAME, ...(options.nativeSidecar ? [SIDECAR_NAME] : [])], containers: options.nativeSidecar ? [] : [SIDECAR_NAME], volumes: VOLUMES, imagePullSecrets: null, revision: settings.revision || "default" };
    return {
      action: "injected",
      pod: {
        ...pod,
        metadata: {
          ...pod.metadata,
          labels: { ...canonicalLabels(pod), ...pod.metadata?.labels, "security.istio.io/tlsMode": "istio" },
          annotations: {
            ...annotations,
            ...metrics.merged,
            "kubectl.kubernetes.io/default-container": apps[0].name,
            "kubectl.kubernetes.io/default-logs-container": apps[0].name,
            "istio.io/rev": settings.revision || "default",
            [A.status]: JSON.stringify(status),
          },
        },
        spec: {
          ...spec,
          initContainers: [...init, ...(spec.initContainers ?? [])],
          containers: options.nativeSidecar ? containers : hold ? [sidecar, ...containers] : [...containers, sidecar],
          volumes: [...(spec.volumes ?? []), ...sidecarVolumes()],
        },
      },
    };
  } catch (err) {
    if (err instanceof InjectRefusal) return { action: "refused", message: err.message };
    throw err;
  }
}
