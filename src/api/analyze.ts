// The analyzer: structural validation of every resource, then checks across resources, as istioctl analyze does.
import { analyzeDestinationRuleHosts } from "./analyzers/destination-rule-hosts.js";
import { analyzeDestinationRules } from "./analyzers/destination-rules.js";
import { analyzeGateways } from "./analyzers/gateways.js";
import { analyzeJwtClaimRoutes } from "./analyzers/jwt-claim-routes.js";
import { analyzeMeshHostConflicts } from "./analyzers/mesh-host-conflicts.js";
import { reporter } from "./analyzers/reporter.js";
import { analyzeRouting } from "./analyzers/routing.js";
import { analyzeSecurity } from "./analyzers/security.js";
import { analyzeServiceEntryPorts } from "./analyzers/service-entry-ports.js";
import { analyzeCompetingSelectors } from "./analyzers/competing-selectors.js";
import { analyzeSidecars } from "./analyzers/sidecars.js";
import { analyzeSelectorTargets } from "./analyzers/selector-targets.js";
import { analyzeAnnotations } from "./analyzers/kube/annotations.js";
import { analyzeGatewayCredentials } from "./analyzers/kube/gateway-credentials.js";
import { analyzeInjection } from "./analyzers/kube/injection.js";
import { objectReporter } from "./analyzers/kube/objects.js";
import { analyzeServices } from "./analyzers/kube/services.js";
import { type Finding, finding, sortFindings } from "./finding.js";
import { formatProblems } from "./format-rules.js";
import { groupOf, isGatewayApi } from "./kinds.js";
import type { LoadedResource } from "./load.js";
import { type AnalysisContext, MeshContext } from "./mesh-context.js";
import type { IstioResource } from "./resource.js";
import { validateStructure } from "./schema.js";
import { webhookProblems } from "./webhook/index.js";

export type { AnalysisContext, ServiceInfo, WorkloadInfo } from "./mesh-context.js";

/** Structural findings for one resource (what a REST write needs before the cross-resource checks). */
export function validateResource(resource: IstioResource | LoadedResource): Finding[] {
  const r = resource as LoadedResource;
  const out = validateStructure(r);
  const report = reporter(out);
  const broken = new Set(out.map((f) => f.path));
  // The format rules read Istio's field names; the Gateway API's schema carries its own patterns.
  if (isGatewayApi(r)) return out;
  for (const p of formatProblems(r.kind, r.spec)) if (!broken.has(p.path)) report(r, p.code, p.path, p.message);
  for (const p of webhookProblems(r.kind, r.spec, r.metadata.namespace ?? "default")) if (!broken.has(p.path)) report(r, p.code, p.path, p.message);
  return out;
}

/**
 * Validates every resource, then checks them against each other and against what is known of the mesh
 * (`context` plus ServiceEntry, WorkloadEntry and Kubernetes objects in `others`). Pure: no I/O.
 */
export function analyze(resources: Array<IstioResource | LoadedResource>, context: AnalysisContext = {}, others: Array<Record<string, unknown>> = []): Finding[] {
  const list = resources as LoadedResource[];
  const out: Finding[] = [];
  const seen = new Map<string, LoadedResource>();
  const valid: LoadedResource[] = [];
  for (const r of list) {
    const key = `${r.kind}/${r.metadata.namespace ?? "default"}/${r.metadata.name}`;
    // Istio's Gateway and the Gateway API's share a kind name, not an identity.
    const first = seen.get(`${groupOf(r.apiVersion)}|${key}`);
    if (first) {
      const where = first.origin ? ` (first at ${first.origin.file}:${first.origin.line})` : "";
      out.push(finding("TRL0005", `${key} is defined twice${where}; keep one definition`, { resource: { kind: r.kind, namespace: r.metadata.namespace ?? "default", name: r.metadata.name }, source: r.origin ? { file: r.origin.file, line: r.origin.line } : undefined }));
      continue;
    }
    seen.set(`${groupOf(r.apiVersion)}|${key}`, r);
    const problems = validateResource(r);
    out.push(...problems);
    if (!problems.some((f) => f.level === "Error")) valid.push(r);
  }
  // Cross-resource checks look only at structurally valid resources, so one mistake is reported once.
  const mesh = new MeshContext(valid, others, context);
  const report = reporter(out);
  analyzeRouting(valid, mesh, report);
  analyzeMeshHostConflicts(valid, mesh, report);
  analyzeGateways(valid, mesh, report);
  analyzeDestinationRules(valid, mesh, report);
  analyzeSecurity(valid, mesh, report);
  analyzeSidecars(valid, mesh, report);
  analyzeDestinationRuleHosts(valid, mesh, report);
  analyzeCompetingSelectors(valid, mesh, report);
  analyzeSelectorTargets(valid, mesh, report);
  analyzeServiceEntryPorts(valid, report);
  analyzeJwtClaimRoutes(valid, mesh, report);
  analyzeGatewayCredentials(valid, mesh, others, report);
  // Kubernetes objects among the inputs (Namespaces, Services, Pods, Deployments) have checks of their own.
  const reportObject = objectReporter(out);
  analyzeAnnotations(others, reportObject);
  analyzeServices(others, reportObject);
  analyzeInjection(others, reportObject);
  return sortFindings(out);
}
