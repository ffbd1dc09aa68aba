// Istio's validating webhook, per kind: the rules its CRD schemas cannot express, with the same accept/refuse
// decision (errors refuse a write, warnings do not). One file per kind.
import { authorizationPolicyProblems } from "./authorization-policy.js";
import { destinationRuleProblems } from "./destination-rule.js";
import { gatewayProblems } from "./gateway.js";
import { peerAuthenticationProblems, requestAuthenticationProblems } from "./peer-request-authentication.js";
import { exportToProblems, Problems, type WebhookProblem } from "./problems.js";
import { sidecarProblems } from "./sidecar.js";
import { telemetryProblems } from "./telemetry.js";
import { virtualServiceProblems } from "./virtual-service.js";
import { workloadGroupProblems } from "./workload-group.js";

export type { WebhookProblem } from "./problems.js";

/** ServiceEntry's other webhook rules live in analyzers/service-entries.ts; exportTo may also be "~" there. */
function serviceEntryExportTo(spec: unknown, namespace: string): WebhookProblem[] {
  const p = new Problems();
  exportToProblems(p, (spec as { exportTo?: unknown } | null)?.exportTo, namespace, { allowNone: true });
  return p.list;
}

const RULES: Record<string, (spec: unknown, namespace: string) => WebhookProblem[]> = {
  ServiceEntry: serviceEntryExportTo,
  DestinationRule: destinationRuleProblems,
  AuthorizationPolicy: authorizationPolicyProblems,
  VirtualService: virtualServiceProblems,
  Gateway: gatewayProblems,
  Sidecar: sidecarProblems,
  PeerAuthentication: peerAuthenticationProblems,
  RequestAuthentication: requestAuthenticationProblems,
  Telemetry: telemetryProblems,
  WorkloadGroup: workloadGroupProblems,
};

/** The webhook's findings for an Istio resource's spec (Gateway API kinds have their own schema rules). */
export function webhookProblems(kind: string, spec: unknown, namespace: string): WebhookProblem[] {
  return RULES[kind]?.(spec, namespace) ?? [];
}
