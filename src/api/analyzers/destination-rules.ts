// DestinationRule checks: duplicate subset names, subsets that select no workload, subsets defined twice.
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

export function analyzeDestinationRules(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  const seen = new Map<string, LoadedResource>();
  for (const dr of resources.filter((r) => r.kind === "DestinationRule")) {
    const spec = asObject(dr.spec);
    if (typeof spec.host !== "string") continue;
    const host = mesh.fqdn(spec.host, ns(dr));
    const services = mesh.servicesFor(spec.host, ns(dr));
    const names = new Map<string, number>();
    asArray(spec.subsets).forEach((raw, i) => {
      const subset = asObject(raw);
      const name = subset.name;
      if (typeof name !== "string") return;
      if (names.has(name)) {
        report(dr, "TRL1011", `spec.subsets[${i}].name`, `subset "${name}" is defined twice in this DestinationRule (also subsets[${names.get(name)}]); rename or remove one`);
      } else names.set(name, i);
      const key = `${ns(dr)}|${host}|${name}`;
      const other = seen.get(key);
      if (other && other !== dr) {
        report(dr, "TRL1013", `spec.subsets[${i}]`, `subset "${name}" of ${host} is also defined by DestinationRule ${ns(other)}/${other.metadata.name}; keep one definition so it is clear which labels apply`);
      } else seen.set(key, dr);
      const labels = asObject(subset.labels) as Record<string, string>;
      if (!mesh.workloadsKnown || services.length === 0) return;
      const pools = services.map((s) => mesh.workloadsOf(s));
      if (pools.some((p) => p === undefined)) return;
      const workloads = pools.flat() as Array<{ labels: Record<string, string> }>;
      if (!workloads.some((w) => matchesLabels(labels, w.labels))) {
        const wanted = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",") || "(none)";
        report(dr, "TRL1003", `spec.subsets[${i}].labels`, `subset "${name}" selects ${wanted}, which matches no workload of ${host}; traffic routed to it would fail. Fix the labels or deploy that version`);
      }
    });
  }
}
