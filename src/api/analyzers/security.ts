// Security checks: selectors that match nothing, PeerAuthentications that contradict each other, and DestinationRule
// TLS settings that contradict the PeerAuthentication of their host's workloads.
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext, type WorkloadInfo } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

const SELECTING = new Set(["AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication", "Sidecar"]);

function selectorOf(r: LoadedResource): { labels: Record<string, string>; path: string } | undefined {
  const spec = asObject(r.spec);
  const sel = r.kind === "Sidecar" ? asObject(spec.workloadSelector).labels : asObject(spec.selector).matchLabels;
  const labels = asObject(sel) as Record<string, string>;
  if (Object.keys(labels).length === 0) return undefined;
  return { labels, path: r.kind === "Sidecar" ? "spec.workloadSelector.labels" : "spec.selector.matchLabels" };
}

function mtlsMode(pa: LoadedResource): string | undefined {
  const mode = asObject(asObject(pa.spec).mtls).mode;
  return typeof mode === "string" && mode !== "UNSET" ? mode : undefined;
}

/** The PeerAuthentication mode in force for a workload: workload scope, then namespace, then mesh; PERMISSIVE by default. */
function effectiveMode(pas: LoadedResource[], w: WorkloadInfo, mesh: MeshContext): { mode: string; from?: LoadedResource } {
  const scoped = (list: LoadedResource[]) => list.find((p) => mtlsMode(p));
  const workload = scoped(pas.filter((p) => ns(p) === w.namespace && selectorOf(p) && matchesLabels(selectorOf(p)!.labels, w.labels)));
  const namespace = scoped(pas.filter((p) => ns(p) === w.namespace && !selectorOf(p) && ns(p) !== mesh.rootNamespace));
  const root = scoped(pas.filter((p) => ns(p) === mesh.rootNamespace && !selectorOf(p)));
  const from = workload ?? namespace ?? root;
  return { mode: from ? mtlsMode(from)! : "PERMISSIVE", from };
}

export function analyzeSecurity(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  if (mesh.workloadsKnown) {
    for (const r of resources.filter((x) => SELECTING.has(x.kind))) {
      const sel = selectorOf(r);
      if (!sel) continue;
      if (mesh.selected(ns(r), sel.labels).length === 0) {
        const wanted = Object.entries(sel.labels).map(([k, v]) => `${k}=${v}`).join(",");
        report(r, "TRL1008", sel.path, `the selector ${wanted} matches no workload in ${ns(r) === mesh.rootNamespace ? "the mesh" : `namespace ${ns(r)}`}, so this ${r.kind} has no effect; fix the labels`);
      }
    }
  }
  const pas = resources.filter((r) => r.kind === "PeerAuthentication");
  const scopes = new Map<string, LoadedResource[]>();
  for (const pa of pas) {
    const sel = selectorOf(pa);
    const scope = sel ? `${ns(pa)}|${Object.entries(sel.labels).sort().map(([k, v]) => `${k}=${v}`).join(",")}` : ns(pa) === mesh.rootNamespace ? "mesh" : `${ns(pa)}|`;
    scopes.set(scope, [...(scopes.get(scope) ?? []), pa]);
  }
  for (const group of scopes.values()) {
    const modes = new Set(group.map(mtlsMode).filter(Boolean));
    if (group.length > 1 && modes.size > 1) {
      for (const pa of group.slice(1)) {
        const first = group[0];
        report(pa, "TRL1009", "spec.mtls.mode", `PeerAuthentication ${ns(first)}/${first.metadata.name} sets mode ${mtlsMode(first)} for the same workloads and this one sets ${mtlsMode(pa)}; Istio applies only the oldest. Keep one PeerAuthentication per scope`);
      }
    }
  }
  if (!mesh.workloadsKnown) return;
  for (const dr of resources.filter((r) => r.kind === "DestinationRule")) {
    const spec = asObject(dr.spec);
    if (typeof spec.host !== "string") continue;
    const tlsPaths: Array<{ mode: unknown; path: string; labels?: Record<string, string> }> = [{ mode: asObject(asObject(spec.trafficPolicy).tls).mode, path: "spec.trafficPolicy.tls.mode" }];
    asArray(spec.subsets).forEach((s, i) => tlsPaths.push({ mode: asObject(asObject(asObject(s).trafficPolicy).tls).mode, path: `spec.subsets[${i}].trafficPolicy.tls.mode`, labels: asObject(asObject(s).labels) as Record<string, string> }));
    const services = mesh.servicesFor(spec.host, ns(dr));
    const workloads = services.flatMap((s) => mesh.workloadsOf(s) ?? []);
    for (const t of tlsPaths) {
      if (t.mode !== "DISABLE" && t.mode !== "ISTIO_MUTUAL") continue;
      const target = workloads.filter((w) => !t.labels || matchesLabels(t.labels, w.labels));
      for (const w of target) {
        const { mode, from } = effectiveMode(pas, w, mesh);
        const where = from ? `PeerAuthentication ${ns(from)}/${from.metadata.name}` : "the default";
        if (t.mode === "DISABLE" && mode === "STRICT") {
          report(dr, "TRL1010", t.path, `tls mode DISABLE sends plaintext to ${spec.host}, but ${where} requires mutual TLS (STRICT) there, so requests will fail; use ISTIO_MUTUAL or remove the tls setting`);
          break;
        }
        if (t.mode === "ISTIO_MUTUAL" && mode === "DISABLE") {
          report(dr, "TRL1010", t.path, `tls mode ISTIO_MUTUAL sends mutual TLS to ${spec.host}, but ${where} disables mutual TLS there, so requests will fail; use DISABLE or change the PeerAuthentication`);
          break;
        }
      }
    }
  }
}
