// Sidecars and Telemetries whose selector no workload of their own namespace carries (IST0101), after Istio's
// sidecar and telemetry selector analyzers: both apply to workloads of their own namespace only, so a selector
// matching workloads elsewhere (or none) makes the resource apply to nothing. Checked when workloads are known.
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext } from "../mesh-context.js";
import { asObject, ns, type Report } from "./reporter.js";

const TARGETS = {
  Sidecar: { code: "TRL1033", field: "spec.workloadSelector.labels", labels: (r: LoadedResource) => asObject(asObject(r.spec).workloadSelector).labels },
  Telemetry: { code: "TRL1047", field: "spec.selector.matchLabels", labels: (r: LoadedResource) => asObject(asObject(r.spec).selector).matchLabels },
} as const;

export function analyzeSelectorTargets(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  if (!mesh.workloadsKnown) return;
  for (const r of resources) {
    if (r.kind !== "Sidecar" && r.kind !== "Telemetry") continue;
    const t = TARGETS[r.kind];
    const labels = asObject(t.labels(r)) as Record<string, string>;
    if (Object.keys(labels).length === 0) continue;
    if (mesh.workloads.some((w) => w.namespace === ns(r) && matchesLabels(labels, w.labels))) continue;
    const text = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
    report(r, t.code, t.field, `no workload in namespace ${ns(r)} carries ${text}, so this ${r.kind} applies to nothing (it selects workloads of its own namespace only); fix the labels or move it to the workloads' namespace`);
  }
}
