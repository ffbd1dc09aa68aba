// Sidecar checks: egress hosts that match no service.
import type { LoadedResource } from "../load.js";
import type { MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

export function analyzeSidecars(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  const sidecars = resources.filter((r) => r.kind === "Sidecar");
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
