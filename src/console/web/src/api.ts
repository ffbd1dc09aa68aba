// The console's only way to the mesh: the control plane's REST API (same origin, forwarded by the console server).
export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly body: unknown) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!res.ok) throw new ApiError((parsed as { message?: string })?.message ?? `HTTP ${res.status}`, res.status, parsed);
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => call<T>("GET", path),
  post: <T>(path: string, body: unknown) => call<T>("POST", path, body),
  put: <T>(path: string, body: unknown) => call<T>("PUT", path, body),
  del: <T>(path: string) => call<T>("DELETE", path),
};

export interface Workload {
  id: string;
  name: string;
  namespace: string;
  service?: string;
  labels: Record<string, string>;
  serviceAccount: string;
  address: string;
  inboundPort: number;
  adminAddress?: string;
  ready: boolean;
  mtls: boolean;
}

export interface ProxyStatus {
  node: { id: string; cluster: string };
  connectedAt: string;
  types: Array<{ typeUrl: string; state: "SYNCED" | "NOT SENT" | "STALE" | "NACKED"; sentVersion?: string; ackedVersion?: string; nackError?: string }>;
  workload?: Workload;
}

export interface Finding {
  code: string;
  level: "Error" | "Warning" | "Info";
  message: string;
  resource?: { kind: string; namespace: string; name: string };
  path?: string;
}

export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
}

export interface HealthEntry {
  kind: "service" | "workload" | "app";
  namespace: string;
  name: string;
  requestRate: number;
  errorRatio: number;
  status: "Healthy" | "Degraded" | "Failure" | "NA";
  inbound: { requestRate: number; errorRatio: number };
  outbound?: { requestRate: number; errorRatio: number };
}

export type Points = Array<[number, number]>;
export interface EntityMetrics {
  requestRate: Points; errorRatio: Points; p50: Points; p95: Points; p99: Points; requestSize: Points; responseSize: Points; tcpSent: Points; tcpReceived: Points;
}

export interface GraphNode {
  id: string; nodeType: "app" | "workload" | "service" | "unknown"; namespace: string; app?: string; version?: string; workload?: string; service?: string;
  isRoot: boolean; isUnknown: boolean; traffic: { inRps: number; outRps: number; inErrorRatio: number; protocol: string };
}
export interface GraphEdge {
  id: string; source: string; target: string; protocol: string; rps: number; errorRatio: number;
  responseTimeMs?: { p50: number; p95: number; p99: number }; mtlsRatio: number; tcpBytesPerSec: number; responseCodes: Record<string, number>;
}
export interface MeshGraph { timestamp: number; window: string; graphType: string; nodes: GraphNode[]; edges: GraphEdge[] }

export interface TraceSummary { traceId: string; rootService: string; rootOperation: string; startTime: number; durationMs: number; spanCount: number; errors: number; services: string[] }
export interface Span { spanId: string; parentSpanId: string; service: string; operation: string; kind: string; startTime: number; durationMs: number; status: string; tags: Record<string, unknown> }

/** The Istio kinds the console edits, with their REST paths. */
export const KINDS = [
  { kind: "VirtualService", group: "networking.istio.io", version: "v1", plural: "virtualservices" },
  { kind: "DestinationRule", group: "networking.istio.io", version: "v1", plural: "destinationrules" },
  { kind: "Gateway", group: "networking.istio.io", version: "v1", plural: "gateways" },
  { kind: "ServiceEntry", group: "networking.istio.io", version: "v1", plural: "serviceentries" },
  { kind: "WorkloadEntry", group: "networking.istio.io", version: "v1", plural: "workloadentries" },
  { kind: "Sidecar", group: "networking.istio.io", version: "v1", plural: "sidecars" },
  { kind: "PeerAuthentication", group: "security.istio.io", version: "v1", plural: "peerauthentications" },
  { kind: "AuthorizationPolicy", group: "security.istio.io", version: "v1", plural: "authorizationpolicies" },
  { kind: "RequestAuthentication", group: "security.istio.io", version: "v1", plural: "requestauthentications" },
] as const;

export function kindPath(kind: string, namespace?: string, name?: string): string {
  const k = KINDS.find((x) => x.kind === kind);
  if (!k) throw new Error(`unknown kind ${kind}`);
  return `/apis/${k.group}/${k.version}${namespace ? `/namespaces/${namespace}` : ""}/${k.plural}${name ? `/${name}` : ""}`;
}

export async function allResources(): Promise<Resource[]> {
  const lists = await Promise.all(KINDS.map((k) => api.get<{ items: Resource[] }>(kindPath(k.kind)).then((l) => l.items, () => [])));
  return lists.flat();
}

/** Saves a resource: creates it, or replaces it (with its current resourceVersion) when it exists. */
export async function saveResource(r: Resource, dryRun = false): Promise<Resource & { warnings?: Finding[] }> {
  const ns = r.metadata.namespace ?? "default";
  const q = dryRun ? "?dryRun=All" : "";
  try {
    const current = await api.get<Resource>(kindPath(r.kind, ns, r.metadata.name));
    return await api.put(kindPath(r.kind, ns, r.metadata.name) + q, { ...r, metadata: { ...r.metadata, resourceVersion: current.metadata.resourceVersion } });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return api.post(kindPath(r.kind, ns) + q, r);
    throw err;
  }
}
