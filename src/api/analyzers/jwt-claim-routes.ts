// VirtualServices that route on JWT claims at a gateway whose workloads no RequestAuthentication covers (IST0149):
// without one the claims are never read, so the routes never match.
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

function claimKey(vs: LoadedResource): string | undefined {
  for (const route of asArray(asObject(vs.spec).http)) {
    for (const m of asArray(asObject(route).match)) {
      for (const field of ["headers", "withoutHeaders"]) {
        const key = Object.keys(asObject(asObject(m)[field])).find((k) => k.startsWith("@request.auth.claims"));
        if (key) return key;
      }
    }
  }
  return undefined;
}

export function analyzeJwtClaimRoutes(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  if (!mesh.workloadsKnown) return;
  const ras = resources.filter((r) => r.kind === "RequestAuthentication");
  const covers = (w: { namespace: string; labels: Record<string, string> }) => ras.some((ra) => (ns(ra) === mesh.rootNamespace || ns(ra) === w.namespace) && matchesLabels(asObject(asObject(asObject(ra.spec).selector).matchLabels) as Record<string, string>, w.labels));
  for (const vs of resources.filter((r) => r.kind === "VirtualService")) {
    const key = claimKey(vs);
    if (!key) continue;
    asArray(asObject(vs.spec).gateways).forEach((g, i) => {
      if (typeof g !== "string" || g === "mesh") return;
      const full = g.includes("/") ? g : `${ns(vs)}/${g}`;
      const gw = resources.find((r) => r.kind === "Gateway" && `${ns(r)}/${r.metadata.name}` === full && r.apiVersion.startsWith("networking.istio.io/"));
      if (!gw) return;
      const selector = asObject(asObject(gw.spec).selector) as Record<string, string>;
      const uncovered = mesh.workloads.filter((w) => matchesLabels(selector, w.labels) && !covers(w));
      if (uncovered.length === 0) return;
      report(vs, "TRL1027", `spec.gateways[${i}]`, `routes on the JWT claim ${key} at Gateway ${full}, but no RequestAuthentication covers its workload ${uncovered[0].name ?? JSON.stringify(uncovered[0].labels)}, so the claim is never read and these routes never match; add a RequestAuthentication for the gateway`);
    });
  }
}
