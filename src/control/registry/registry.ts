// Universal-mode discovery: each proxy's xDS node metadata registers its workload; WorkloadEntry adds workloads that
// run no proxy. When a proxy's stream ends, its endpoints go after a grace period.
//
// Node metadata keys a Trellis sidecar sends (Istio-like names):
//   NAMESPACE, WORKLOAD_NAME, SERVICE (the service it serves), LABELS (map, with app and version),
//   SERVICE_ACCOUNT, INSTANCE_IP (the address peers dial), INBOUND_PORT (the port peers dial there),
//   SERVICE_PORTS ([{port, name, protocol}], the service's ports), APP_PORT (where the app listens, on 127.0.0.1),
//   UPSTREAMS ([{host, port, localPort}], explicit mode's per-upstream local ports), ADMIN_ADDRESS, STATS_ADDRESS, READY (bool),
//   MTLS_READY (bool: the sidecar has a certificate from the CA, so peers use mutual TLS toward it),
//   INTERCEPTION_MODE ("REDIRECT" in transparent mode: the sidecar gets 15001/15006 and a listener per service VIP),
//   PORT_TARGETS ({"80": 18080}: a gateway's service ports -> the ports it binds on the host).
export interface ServicePort {
  port: number;
  name?: string;
  protocol?: string;
}

export interface Workload {
  /** The proxy's node id, or "WorkloadEntry/NS/NAME". */
  id: string;
  name: string;
  namespace: string;
  service?: string;
  labels: Record<string, string>;
  serviceAccount: string;
  address: string;
  /** The port peers dial (the sidecar's inbound listener), or the workload's own port when it has no sidecar. */
  inboundPort: number;
  /** A workload without a sidecar serving several ports (ServiceEntry, WorkloadEntry): service port -> its port. */
  portTargets?: Record<number, number>;
  servicePorts: ServicePort[];
  appPort?: number;
  upstreams: Array<{ host: string; port: number; localPort: number }>;
  adminAddress?: string;
  /** Istio's agent port (15020): the proxy's and the app's metrics, merged. */
  statsAddress?: string;
  ready: boolean;
  /** Runs a Trellis proxy (so metadata exchange applies). */
  sidecar: boolean;
  /** Its sidecar holds a mesh certificate, so peers reach it with mutual TLS (Istio's auto mTLS). */
  mtls: boolean;
  /** REDIRECT: iptables sends the workload's traffic to its sidecar (15001 out, 15006 in), as Istio's sidecars run. */
  interception: "REDIRECT" | "NONE";
  /** "region/zone/subzone", "" when unknown (see locality.ts). */
  locality?: string;
  /** Kubernetes mode: the ClusterIP of the Service this endpoint serves, which becomes the service's VIP. */
  serviceVip?: string;
}

import { localityOf } from "./locality.js";

function str(v: unknown, d = ""): string {
  return typeof v === "string" ? v : d;
}

function num(v: unknown): number | undefined {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

/** A workload from a proxy's node metadata; errors name the key to fix. */
export function workloadFromNode(id: string, meta: Record<string, unknown>, locality?: string): { workload?: Workload; error?: string } {
  const namespace = str(meta.NAMESPACE, "default");
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries((meta.LABELS as Record<string, unknown>) ?? {})) if (typeof v === "string") labels[k] = v;
  const service = str(meta.SERVICE) || labels.app || undefined;
  const servicePorts = Array.isArray(meta.SERVICE_PORTS) ? (meta.SERVICE_PORTS as Array<Record<string, unknown>>).map((p) => ({ port: num(p.port) ?? 0, name: str(p.name) || undefined, protocol: str(p.protocol, "HTTP").toUpperCase() })) : [];
  if (servicePorts.some((p) => p.port < 1 || p.port > 65535)) return { error: `node ${id}: SERVICE_PORTS has a port outside 1-65535` };
  const upstreams = Array.isArray(meta.UPSTREAMS) ? (meta.UPSTREAMS as Array<Record<string, unknown>>).map((u) => ({ host: str(u.host), port: num(u.port) ?? 0, localPort: num(u.localPort) ?? 0 })) : [];
  const inboundPort = num(meta.INBOUND_PORT);
  const portTargets = meta.PORT_TARGETS && typeof meta.PORT_TARGETS === "object" ? Object.fromEntries(Object.entries(meta.PORT_TARGETS as Record<string, unknown>).map(([k, v]) => [Number(k), num(v) ?? 0])) : undefined;
  if (portTargets && Object.entries(portTargets).some(([k, v]) => !(Number(k) >= 1 && Number(k) <= 65535 && v >= 1 && v <= 65535))) return { error: `node ${id}: PORT_TARGETS maps ports outside 1-65535` };
  if (service && servicePorts.length && !inboundPort) return { error: `node ${id}: INBOUND_PORT is required when SERVICE_PORTS are given` };
  return {
    workload: {
      id, namespace, service, labels,
      name: str(meta.WORKLOAD_NAME) || id,
      serviceAccount: str(meta.SERVICE_ACCOUNT, "default"),
      address: str(meta.INSTANCE_IP, "127.0.0.1"),
      inboundPort: inboundPort ?? 0,
      ...(portTargets ? { portTargets } : {}),
      servicePorts,
      appPort: num(meta.APP_PORT),
      upstreams,
      adminAddress: str(meta.ADMIN_ADDRESS) || undefined,
      statsAddress: str(meta.STATS_ADDRESS) || undefined,
      ready: meta.READY !== false,
      sidecar: true,
      mtls: meta.MTLS_READY === true,
      interception: meta.INTERCEPTION_MODE === "REDIRECT" ? "REDIRECT" : "NONE",
      locality: localityOf(locality, labels),
    },
  };
}

export class Registry {
  private readonly workloads = new Map<string, Workload>();
  private readonly removals = new Map<string, NodeJS.Timeout>();

  constructor(private readonly onChange: () => void, private readonly graceMs = 5000) {}

  upsert(w: Workload): void {
    const pending = this.removals.get(w.id);
    if (pending) {
      clearTimeout(pending);
      this.removals.delete(w.id);
    }
    this.workloads.set(w.id, w);
    this.onChange();
  }

  /** Removes after the grace period, so a proxy that reconnects at once keeps its endpoints. */
  remove(id: string): void {
    if (!this.workloads.has(id) || this.removals.has(id)) return;
    const t = setTimeout(() => {
      this.removals.delete(id);
      this.workloads.delete(id);
      this.onChange();
    }, this.graceMs);
    t.unref();
    this.removals.set(id, t);
  }

  list(): Workload[] {
    return [...this.workloads.values()];
  }

  get(id: string): Workload | undefined {
    return this.workloads.get(id);
  }

  close(): void {
    for (const t of this.removals.values()) clearTimeout(t);
  }
}
