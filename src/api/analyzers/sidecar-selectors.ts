// Sidecars that compete for the same workloads, after istioctl analyze: several without a selector in one namespace
// (IST0111), or several whose selectors pick the same workload (IST0110). Istio then applies one arbitrarily.
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext } from "../mesh-context.js";
import { asObject, ns, type Report } from "./reporter.js";

const selectorOf = (sc: LoadedResource) => asObject(asObject(asObject(sc.spec).workloadSelector).labels) as Record<string, string>;
const name = (sc: LoadedResource) => `${ns(sc)}/${sc.metadata.name}`;

export function analyzeSidecarSelectors(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  const byNamespace = new Map<string, LoadedResource[]>();
  for (const sc of resources.filter((r) => r.kind === "Sidecar")) byNamespace.set(ns(sc), [...(byNamespace.get(ns(sc)) ?? []), sc]);
  for (const [namespace, sidecars] of byNamespace) {
    const unscoped = sidecars.filter((sc) => Object.keys(selectorOf(sc)).length === 0);
    if (unscoped.length > 1) {
      for (const sc of unscoped) report(sc, "TRL1023", "spec", `Sidecars ${unscoped.map(name).join(", ")} in namespace ${namespace} have no workloadSelector, and only one default Sidecar per namespace applies; merge them or give all but one a workloadSelector`);
    }
    if (!mesh.workloadsKnown) continue;
    const scoped = sidecars.filter((sc) => Object.keys(selectorOf(sc)).length > 0);
    for (const w of mesh.workloads.filter((x) => x.namespace === namespace)) {
      const picking = scoped.filter((sc) => matchesLabels(selectorOf(sc), w.labels));
      if (picking.length < 2) continue;
      for (const sc of picking) report(sc, "TRL1024", "spec.workloadSelector", `Sidecars ${picking.map(name).join(", ")} all select workload ${w.name ?? JSON.stringify(w.labels)}, and only one applies; make their selectors exclusive`);
    }
  }
}
