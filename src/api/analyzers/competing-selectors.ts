// Sidecars and Telemetries that compete for the same workloads, after istioctl analyze: several without a selector in
// one namespace (IST0111, IST0160), or several whose selectors pick the same workload (IST0110, IST0159). Istio then
// applies one arbitrarily.
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext } from "../mesh-context.js";
import { asObject, ns, type Report } from "./reporter.js";

const selectorOf = (r: LoadedResource) => asObject(r.kind === "Sidecar" ? asObject(asObject(r.spec).workloadSelector).labels : asObject(asObject(r.spec).selector).matchLabels) as Record<string, string>;

const CODES = {
  Sidecar: { unscoped: "TRL1023", overlap: "TRL1024", field: "spec.workloadSelector", fix: "only one default Sidecar per namespace applies" },
  Telemetry: { unscoped: "TRL1031", overlap: "TRL1032", field: "spec.selector", fix: "only one namespace-wide Telemetry applies" },
} as const;
const name = (sc: LoadedResource) => `${ns(sc)}/${sc.metadata.name}`;

export function analyzeCompetingSelectors(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  for (const kind of ["Sidecar", "Telemetry"] as const) competing(resources.filter((r) => r.kind === kind), kind, mesh, report);
}

function competing(list: LoadedResource[], kind: keyof typeof CODES, mesh: MeshContext, report: Report): void {
  const c = CODES[kind];
  const byNamespace = new Map<string, LoadedResource[]>();
  for (const sc of list) byNamespace.set(ns(sc), [...(byNamespace.get(ns(sc)) ?? []), sc]);
  for (const [namespace, sidecars] of byNamespace) {
    const unscoped = sidecars.filter((sc) => Object.keys(selectorOf(sc)).length === 0);
    if (unscoped.length > 1) {
      for (const sc of unscoped) report(sc, c.unscoped, "spec", `${kind}s ${unscoped.map(name).join(", ")} in namespace ${namespace} have no selector, and ${c.fix}; merge them or give all but one a selector`);
    }
    if (!mesh.workloadsKnown) continue;
    const scoped = sidecars.filter((sc) => Object.keys(selectorOf(sc)).length > 0);
    for (const w of mesh.workloads.filter((x) => x.namespace === namespace)) {
      const picking = scoped.filter((sc) => matchesLabels(selectorOf(sc), w.labels));
      if (picking.length < 2) continue;
      for (const sc of picking) report(sc, c.overlap, c.field, `${kind}s ${picking.map(name).join(", ")} all select workload ${w.name ?? JSON.stringify(w.labels)}, and only one applies; make their selectors exclusive`);
    }
  }
}
