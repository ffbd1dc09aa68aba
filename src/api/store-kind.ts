// The name a config store keys a kind by: Istio's kinds by their name, other groups' by kubectl's qualified form
// ("Gateway.gateway.networking.k8s.io"), so the Gateway API's Gateway and Istio's never share a key.
import { groupOf } from "./kinds.js";

const ISTIO_GROUPS = new Set(["networking.istio.io", "security.istio.io", "telemetry.istio.io", ""]);

export function storeKind(info: { kind: string; group: string }): string {
  return ISTIO_GROUPS.has(info.group) ? info.kind : `${info.kind}.${info.group}`;
}

export function storeKindOf(r: { apiVersion?: string; kind: string }): string {
  return storeKind({ kind: r.kind, group: groupOf(r.apiVersion ?? "") });
}
