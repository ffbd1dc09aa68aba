// Sidecar checks: egress hosts that match no service, and a workloadSelector no workload of its namespace carries
// (IST0101, as Istio's sidecar selector analyzer: a Sidecar applies to workloads of its own namespace only).
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

export function analyzeSidecars(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  const sidecars = resources.filter((r) => r.kind === "Sidecar");
  if (mesh.workloadsKnown) for (const sc of sidecars) selectorMatchesNothing(sc, mesh, report);
  if (!mesh.servicesKnown) return;
  for (const sc of sidecars) {
    asArray(asObject(sc.spec).egress).forEach((egress, i) => {
      asArray(asObject(egress).hosts).forEach((entry, j) => {
        if (typeof entry !== "string" || !entry.includes("/")) return;
        const [namespace, host] = [entry.slice(0, entry.indexOf("/")), entry.slice(entry.indexOf("/") + 1)];
        if (namespace === "~") return;
        const inNs = namespace === "." ? ns(sc) : namespace;
        const candidates = mesh.services.filter((s) => inNs === "*" || s.namespace === inNs);
        const matches = host === "*" ? candidates : candidates.filter((s) => mesh.servicesFor(host, inNs === "*" ? s.namespace : inNs).includes(s));
        if (matches.length === 0) {
          report(sc, "TRL1012", `spec.egress[${i}].hosts[${j}]`, `egress host "${entry}" matches no known service, so it adds nothing to what this Sidecar's workloads can reach; fix the namespace or host`);
        }
      });
    });
  }
}

function selectorMatchesNothing(sc: LoadedResource, mesh: MeshContext, report: Report): void {
  const labels = asObject(asObject(asObject(sc.spec).workloadSelector).labels) as Record<string, string>;
  if (Object.keys(labels).length === 0) return;
  if (mesh.workloads.some((w) => w.namespace === ns(sc) && matchesLabels(labels, w.labels))) return;
  const text = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
  report(sc, "TRL1033", "spec.workloadSelector.labels", `no workload in namespace ${ns(sc)} carries ${text}, so this Sidecar applies to nothing (a Sidecar selects workloads of its own namespace only); fix the labels or move it to the workloads' namespace`);
}
