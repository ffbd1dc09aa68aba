// VirtualServices for the mesh (sidecars) that claim the same host where both are visible (Istio's IST0109). Sidecars
// use one VirtualService per host, so which one wins is undefined; gateways merge theirs, so they are not checked.
import type { LoadedResource } from "../load.js";
import type { MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

/** The namespaces a VirtualService is visible in: "*" (all, the default) or the ones its exportTo names. */
function scopes(vs: LoadedResource): string[] {
  const exportTo = asArray(asObject(vs.spec).exportTo).filter((e): e is string => typeof e === "string");
  if (exportTo.length === 0 || exportTo.includes("*")) return ["*"];
  return [...new Set(exportTo.map((e) => (e === "." ? ns(vs) : e)))];
}

function boundToMesh(vs: LoadedResource): boolean {
  const gateways = asArray(asObject(vs.spec).gateways);
  return gateways.length === 0 || gateways.includes("mesh");
}

/** Istio's host.Name.Matches: equal, or one is a wildcard covering the other. */
function overlaps(a: string, b: string): boolean {
  if (a === b || a === "*" || b === "*") return true;
  if (a.startsWith("*.") && b.endsWith(a.slice(1))) return true;
  return b.startsWith("*.") && a.endsWith(b.slice(1));
}

export function analyzeMeshHostConflicts(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  const claims: Array<{ scope: string; host: string; vs: LoadedResource; path: string }> = [];
  for (const vs of resources.filter((r) => r.kind === "VirtualService" && boundToMesh(r))) {
    asArray(asObject(vs.spec).hosts).forEach((h, i) => {
      if (typeof h !== "string") return;
      for (const scope of scopes(vs)) claims.push({ scope, host: mesh.fqdn(h, ns(vs)), vs, path: `spec.hosts[${i}]` });
    });
  }
  const reported = new Set<LoadedResource>();
  for (const c of claims) {
    if (reported.has(c.vs)) continue;
    // Two claims meet when they are visible in one namespace: the same scope, or one of them exported everywhere.
    const rivals = claims.filter((o) => o.vs !== c.vs && (o.scope === c.scope || o.scope === "*" || c.scope === "*") && (o.scope === c.scope ? o.host === c.host : overlaps(o.host, c.host)));
    if (rivals.length === 0) continue;
    reported.add(c.vs);
    const names = [...new Set(rivals.map((o) => `${ns(o.vs)}/${o.vs.metadata.name}`))].sort().join(", ");
    const where = c.scope === "*" ? "everywhere" : `in namespace ${c.scope}`;
    report(c.vs, "TRL1004", c.path, `host ${c.host} is also claimed for the mesh by VirtualService ${names} (visible ${where}); sidecars use one VirtualService per host, so which routes apply is undefined. Merge them into one VirtualService, or narrow exportTo`);
  }
}
