// Istio's probe rewriting: the kubelet's httpGet and tcpSocket probes of app containers go to the sidecar's health
// port (15021) as /app-health/<container>/readyz|livez|startupz, and the sidecar probes the app itself (the original
// probes travel in its ISTIO_KUBE_APP_PROBERS env). Without this, mTLS STRICT would refuse the kubelet's plaintext
// probes, which interception sends through the sidecar's inbound listener.
import { InjectRefusal } from "./annotations.js";

export const HEALTH_PORT = 15021;

export interface Probe {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: Array<{ name: string; value: string }> };
  tcpSocket?: { port: number | string; host?: string };
  timeoutSeconds?: number;
  [k: string]: unknown;
}

export interface ContainerLike {
  name: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  [k: string]: unknown;
}

/** What the sidecar does for one /app-health path: Kubernetes' own probe shape, ports resolved to numbers. */
export type AppProber = { httpGet: { path: string; port: number; host?: string; scheme: string; httpHeaders?: Array<{ name: string; value: string }> }; timeoutSeconds: number }
  | { tcpSocket: { port: number; host?: string }; timeoutSeconds: number };

const KINDS = [["readinessProbe", "readyz"], ["livenessProbe", "livez"], ["startupProbe", "startupz"]] as const;

function resolvePort(c: ContainerLike, field: string, port: number | string): number {
  if (typeof port === "number") return port;
  const named = c.ports?.find((p) => p.name === port);
  if (named) return named.containerPort;
  if (/^\d+$/.test(port)) return Number(port);
  throw new InjectRefusal(`container ${c.name}: ${field} names port "${port}", which is not one of its ports; name a declared port or use a number`);
}

/**
 * The app containers with their probes pointed at the sidecar, and the probers the sidecar runs for them. Exec and
 * gRPC probes stay as they are (exec runs inside the container; gRPC probes are not rewritten by Trellis).
 */
export function rewriteProbes(containers: ContainerLike[]): { containers: ContainerLike[]; probers: Record<string, AppProber> } {
  const probers: Record<string, AppProber> = {};
  const out = containers.map((c) => {
    const copy: ContainerLike = { ...c };
    for (const [field, suffix] of KINDS) {
      const probe = c[field];
      if (!probe || (!probe.httpGet && !probe.tcpSocket)) continue;
      const path = `/app-health/${c.name}/${suffix}`;
      const timeoutSeconds = probe.timeoutSeconds ?? 1;
      if (probe.httpGet) {
        const g = probe.httpGet;
        probers[path] = { httpGet: { path: g.path ?? "/", port: resolvePort(c, `${field}.httpGet.port`, g.port), ...(g.host ? { host: g.host } : {}), scheme: g.scheme ?? "HTTP", ...(g.httpHeaders ? { httpHeaders: g.httpHeaders } : {}) }, timeoutSeconds };
      } else {
        const t = probe.tcpSocket!;
        probers[path] = { tcpSocket: { port: resolvePort(c, `${field}.tcpSocket.port`, t.port), ...(t.host ? { host: t.host } : {}) }, timeoutSeconds };
      }
      const { httpGet: _h, tcpSocket: _t, ...rest } = probe;
      copy[field] = { ...rest, httpGet: { path, port: HEALTH_PORT, scheme: "HTTP" } };
    }
    return copy;
  });
  return { containers: out, probers };
}
