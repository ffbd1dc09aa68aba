// What a workload may register, as its credential states it (a bootstrap token's svc/lbl claims in universal mode; the
// pod's own service and labels on Kubernetes), and the check of a proxy's node metadata against it. Labels select
// policies, subsets and gateways and the service decides who receives its traffic, so neither is taken on the
// proxy's word.
export interface RegistrationScope {
  /** The one service the holder may serve; undefined = none (a client-only workload or a gateway). */
  service?: string;
  /** Labels the holder may claim (with exactly these values); app=service is always allowed. */
  labels?: Record<string, string>;
  /**
   * The WorkloadEntry (in the credential's namespace) the holder runs as, as Istio's auto-registration ties a VM to
   * its entry: the entry's labels (app = its service) are what it may claim, read when it connects.
   */
  workloadEntry?: string;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** An error naming what is wrong in a scope, or undefined. */
export function checkScope(scope: RegistrationScope): string | undefined {
  if (scope.service !== undefined && (!NAME.test(scope.service) || scope.service.length > 63)) return `service "${scope.service}" must be a DNS label (lowercase letters, digits and '-', at most 63 characters)`;
  for (const [k, v] of Object.entries(scope.labels ?? {})) {
    if (!LABEL_KEY.test(k) || k.length > 317) return `label key "${k}" is not a Kubernetes label key`;
    if (typeof v !== "string" || !LABEL_VALUE.test(v) || v.length > 63) return `label ${k}: value "${String(v)}" is not a Kubernetes label value`;
  }
  if (scope.workloadEntry !== undefined && (scope.service !== undefined || scope.labels !== undefined)) return "a workload entry scope comes with no service or labels of its own: they are the entry's";
  if (scope.workloadEntry !== undefined && (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(scope.workloadEntry) || scope.workloadEntry.length > 253)) return `workload entry "${scope.workloadEntry}" is not a valid resource name`;
  if (scope.service && scope.labels?.app !== undefined && scope.labels.app !== scope.service) return `label app=${scope.labels.app} contradicts service ${scope.service}`;
  return undefined;
}

/** What a proxy's node metadata claims: its service (SERVICE, else the app label) and its labels. */
export function claimsOf(meta: Record<string, unknown>): { service?: string; labels: Record<string, unknown> } {
  const labels = meta.LABELS && typeof meta.LABELS === "object" && !Array.isArray(meta.LABELS) ? (meta.LABELS as Record<string, unknown>) : {};
  const service = typeof meta.SERVICE === "string" && meta.SERVICE ? meta.SERVICE : typeof labels.app === "string" && labels.app ? labels.app : undefined;
  return { service, labels };
}

/** Why node `id`'s claims exceed `scope` (one sentence with the fix), or undefined when they fit. */
export function exceedsScope(id: string, meta: Record<string, unknown>, scope: RegistrationScope, credential: string): string | undefined {
  const { service, labels } = claimsOf(meta);
  if (service !== undefined && service !== scope.service) {
    return `node ${id} claims service ${service} but its ${credential} allows ${scope.service ? `only service ${scope.service}` : "no service"}; ${credential === "token" ? `issue it with \`trellis token create --service ${service}\`` : "fix the workload's metadata"}`;
  }
  const allowed: Record<string, string> = { ...(scope.labels ?? {}), ...(scope.service ? { app: scope.service } : {}) };
  for (const [k, v] of Object.entries(labels)) {
    if (allowed[k] !== v) return `node ${id} claims label ${k}=${String(v)} but its ${credential} ${k in allowed ? `allows ${k}=${allowed[k]}` : `does not allow label ${k}`}; ${credential === "token" ? `issue it with \`trellis token create --label ${k}=${String(v)}\`` : "fix the workload's metadata"}`;
  }
  return undefined;
}

/** The scope a WorkloadEntry grants: its labels, and its app label as the service. */
export function entryScope(entry: { spec?: unknown } | undefined): RegistrationScope | undefined {
  const spec = entry?.spec as { labels?: Record<string, unknown> } | undefined;
  if (!entry) return undefined;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec?.labels ?? {})) if (typeof v === "string") labels[k] = v;
  return { service: labels.app, labels };
}
