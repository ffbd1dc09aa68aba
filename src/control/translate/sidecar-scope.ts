// Istio's Sidecar resource, egress part: which services a proxy is told about. In a large mesh this is what keeps
// each proxy's config small. The Sidecar that applies to a workload is the oldest in its namespace whose
// workloadSelector matches it, else its namespace's one without a selector, else the root namespace's; with none,
// every service is visible (Istio's default).
import type { IstioResource } from "../../api/resource.js";

export interface SidecarSpec {
  workloadSelector?: { labels?: Record<string, string> };
  egress?: Array<{ hosts?: string[]; port?: { number?: number } }>;
  outboundTrafficPolicy?: { mode?: "ALLOW_ANY" | "REGISTRY_ONLY" };
}

export interface ScopedService {
  hostname: string;
  namespace: string;
}

/**
 * "ns/host" matching: ns "*" any, "." the workload's own (so the mesh default in the root namespace means each
 * workload's namespace, as Istio reads it), "~" none; host "*", "*.suffix", a FQDN or a short name.
 */
function hostMatches(pattern: string, workloadNs: string, s: ScopedService): boolean {
  const slash = pattern.indexOf("/");
  const ns = slash < 0 ? "*" : pattern.slice(0, slash);
  const host = slash < 0 ? pattern : pattern.slice(slash + 1);
  if (ns === "~") return false;
  if (ns !== "*" && (ns === "." ? workloadNs : ns) !== s.namespace) return false;
  if (host === "*") return true;
  if (host.startsWith("*.")) return s.hostname.endsWith(host.slice(1));
  return s.hostname === host || s.hostname.startsWith(`${host}.${s.namespace}.`);
}

/** The Sidecar that applies to a workload, or undefined. */
export function sidecarFor(resources: IstioResource[], workload: { namespace: string; labels: Record<string, string> }, rootNamespace: string): IstioResource<SidecarSpec> | undefined {
  const sidecars = (resources.filter((r) => r.kind === "Sidecar") as unknown as Array<IstioResource<SidecarSpec>>)
    .sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") || a.metadata.name.localeCompare(b.metadata.name));
  const selects = (s: IstioResource<SidecarSpec>) => Object.entries(s.spec.workloadSelector?.labels ?? {}).every(([k, v]) => workload.labels[k] === v);
  const hasSelector = (s: IstioResource<SidecarSpec>) => Object.keys(s.spec.workloadSelector?.labels ?? {}).length > 0;
  return sidecars.find((s) => s.metadata.namespace === workload.namespace && hasSelector(s) && selects(s))
    ?? sidecars.find((s) => s.metadata.namespace === workload.namespace && !hasSelector(s))
    ?? sidecars.find((s) => s.metadata.namespace === rootNamespace && !hasSelector(s));
}

/**
 * Whether the Sidecar lets a workload of `workloadNs` see this service: with `port`, on that port (an egress listener
 * with a port number scopes its hosts to that port; one without scopes them to every port); without, on any port.
 */
export function egressAllows(sidecar: IstioResource<SidecarSpec> | undefined, workloadNs: string, service: ScopedService, port?: number): boolean {
  if (!sidecar?.spec.egress?.length) return true;
  return sidecar.spec.egress.some((e) => (e.port?.number === undefined || port === undefined || e.port.number === port) && (e.hosts ?? []).some((h) => hostMatches(h, workloadNs, service)));
}

/** Where transparent traffic to hosts the registry does not know goes: the Sidecar's policy, else the mesh's (ALLOW_ANY by default). */
export function outboundTrafficMode(sidecar: IstioResource<SidecarSpec> | undefined, meshMode: "ALLOW_ANY" | "REGISTRY_ONLY" | undefined): "ALLOW_ANY" | "REGISTRY_ONLY" {
  return sidecar?.spec.outboundTrafficPolicy?.mode ?? meshMode ?? "ALLOW_ANY";
}
