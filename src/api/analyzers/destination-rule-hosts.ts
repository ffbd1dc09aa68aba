// DestinationRule checks after istioctl analyze: TLS origination that verifies no server certificate (IST0128 for the
// rule, IST0129 per port) and a host no service of the mesh has (IST0174).
import type { LoadedResource } from "../load.js";
import type { MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

/** SIMPLE or MUTUAL TLS without caCertificates verifies nothing, unless a workload-scoped credentialName brings the CA. */
function unverified(tls: Record<string, unknown>, scoped: boolean): boolean {
  if (tls.mode !== "SIMPLE" && tls.mode !== "MUTUAL") return false;
  return !tls.caCertificates && !(tls.credentialName && scoped);
}

export function analyzeDestinationRuleHosts(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  for (const dr of resources.filter((r) => r.kind === "DestinationRule")) {
    const spec = asObject(dr.spec);
    const policy = asObject(spec.trafficPolicy);
    const scoped = spec.workloadSelector !== undefined;
    const tls = asObject(policy.tls);
    const why = "so the server's certificate is not verified and a man in the middle goes unnoticed; set caCertificates (or a credentialName holding the CA)";
    if (unverified(tls, scoped)) report(dr, "TRL1020", "spec.trafficPolicy.tls", `TLS mode ${String(tls.mode)} to ${String(spec.host)} has no caCertificates, ${why}`);
    asArray(policy.portLevelSettings).forEach((pls, i) => {
      const t = asObject(asObject(pls).tls);
      if (unverified(t, scoped)) report(dr, "TRL1021", `spec.trafficPolicy.portLevelSettings[${i}].tls`, `TLS mode ${String(t.mode)} to ${String(spec.host)} port ${String(asObject(asObject(pls).port).number)} has no caCertificates, ${why}`);
    });
    if (mesh.servicesKnown && typeof spec.host === "string" && mesh.servicesFor(spec.host, ns(dr)).length === 0) {
      report(dr, "TRL1022", "spec.host", `host "${spec.host}" (${mesh.fqdn(spec.host, ns(dr))}) matches no service of the mesh, so this DestinationRule applies to nothing; fix the host or add a ServiceEntry`);
    }
  }
}
