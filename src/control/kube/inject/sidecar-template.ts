// The containers and volumes injection adds, in the shape of Istio's injection template (istio-init, istio-proxy,
// the istio-token projection with audience istio-ca, the mesh roots from istio-ca-root-cert), running Trellis:
// `trellis istio-iptables` with istio-iptables' flags, and `trellis proxy sidecar` doing what istio-agent does.
import type { PodInjectOptions } from "./annotations.js";
import type { InjectSettings } from "./inject-settings.js";
import type { AppProber } from "./probe-rewrite.js";

export const PROXY_UID = 1337;
export const SIDECAR_NAME = "istio-proxy";
export const INIT_NAME = "istio-init";
/** Ports the sidecar owns in the pod: outbound and inbound capture, merged metrics, health, Envoy's prometheus port. */
export const SIDECAR_PORTS = { outbound: 15001, inbound: 15006, admin: 15000, stats: 15020, health: 15021, envoyProm: 15090 };
export const RESERVED_PORTS = [SIDECAR_PORTS.outbound, SIDECAR_PORTS.inbound, SIDECAR_PORTS.stats, SIDECAR_PORTS.health, SIDECAR_PORTS.envoyProm];
export const TOKEN_DIR = "/var/run/secrets/tokens";
export const ROOTS_DIR = "/var/run/secrets/istio";
export const BOOTSTRAP_DIR = "/etc/istio/proxy";
/** The pod's labels and annotations as the downward API writes them: the agent's workload labels for telemetry. */
export const PODINFO_DIR = "/etc/istio/pod";
export const VOLUMES = ["istio-envoy", "istio-podinfo", "istio-token", "istiod-ca-cert"];

type Obj = Record<string, unknown>;
type Named = { name: string; [k: string]: unknown };
const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } });

export interface SidecarInputs {
  settings: InjectSettings;
  options: PodInjectOptions;
  /** App containers' names and declared ports (ISTIO_META_APP_CONTAINERS, ISTIO_META_POD_PORTS). */
  appContainers: Array<{ name: string; ports?: unknown[] }>;
  probers: Record<string, AppProber>;
  /** The app's own prometheus.io scrape target, merged into 15020 by the sidecar. */
  appMetrics?: { port: string; path: string };
  /** The workload the pod belongs to (its Deployment, Job, ... or itself): telemetry's workload name. */
  workloadName: string;
}

/** istio-iptables' flags for this pod's interception (what the init container runs). */
export function iptablesArgs(o: PodInjectOptions): string[] {
  const list = (v: Array<number | string> | "*") => (v === "*" ? "*" : v.join(","));
  const excludeInbound = [...new Set([SIDECAR_PORTS.envoyProm, SIDECAR_PORTS.health, SIDECAR_PORTS.stats, ...o.excludeInboundPorts])];
  return [
    "istio-iptables", "-p", String(SIDECAR_PORTS.outbound), "-z", String(SIDECAR_PORTS.inbound), "-u", String(PROXY_UID), "-m", "REDIRECT",
    "-i", list(o.includeOutboundCidrs), "-x", list(o.excludeOutboundCidrs), "-b", list(o.includeInboundPorts), "-d", list(excludeInbound),
    ...(o.excludeOutboundPorts.length ? ["-o", list(o.excludeOutboundPorts)] : []),
    ...(o.includeOutboundPorts.length ? ["-q", list(o.includeOutboundPorts)] : []),
  ];
}

const resources = (o: PodInjectOptions) => ({ requests: { ...o.resources.requests }, limits: { ...o.resources.limits } });

export function initContainer(i: SidecarInputs): Named {
  return {
    name: INIT_NAME,
    image: i.settings.image,
    args: iptablesArgs(i.options),
    resources: resources(i.options),
    securityContext: {
      allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: false, runAsGroup: 0, runAsNonRoot: false, runAsUser: 0,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
    },
  };
}

function sidecarEnv(i: SidecarInputs): Obj[] {
  const p = i.options.proxy;
  const proxyConfig = { discoveryAddress: p.discoveryAddress, terminationDrainDuration: `${p.terminationDrainSeconds}s`, holdApplicationUntilProxyStarts: p.holdApplicationUntilProxyStarts, ...(Object.keys(p.proxyMetadata).length ? { proxyMetadata: p.proxyMetadata } : {}) };
  const ports = i.appContainers.flatMap((c) => c.ports ?? []);
  return [
    { name: "PILOT_CERT_PROVIDER", value: "istiod" },
    { name: "CA_ADDR", value: p.discoveryAddress },
    { name: "POD_NAME", ...field("metadata.name") },
    { name: "POD_NAMESPACE", ...field("metadata.namespace") },
    { name: "INSTANCE_IP", ...field("status.podIP") },
    { name: "SERVICE_ACCOUNT", ...field("spec.serviceAccountName") },
    { name: "HOST_IP", ...field("status.hostIP") },
    { name: "PROXY_CONFIG", value: JSON.stringify(proxyConfig) },
    { name: "ISTIO_META_POD_PORTS", value: JSON.stringify(ports) },
    { name: "ISTIO_META_APP_CONTAINERS", value: i.appContainers.map((c) => c.name).join(",") },
    { name: "ISTIO_META_NODE_NAME", ...field("spec.nodeName") },
    { name: "ISTIO_META_INTERCEPTION_MODE", value: "REDIRECT" },
    { name: "ISTIO_META_CLUSTER_ID", value: "Kubernetes" },
    { name: "ISTIO_META_WORKLOAD_NAME", value: i.workloadName },
    { name: "TRUST_DOMAIN", value: i.settings.trustDomain },
    ...(Object.keys(i.probers).length ? [{ name: "ISTIO_KUBE_APP_PROBERS", value: JSON.stringify(i.probers) }] : []),
    ...(i.appMetrics ? [{ name: "ISTIO_PROMETHEUS_ANNOTATIONS", value: JSON.stringify({ scrape: "true", port: i.appMetrics.port, path: i.appMetrics.path }) }] : []),
    ...Object.entries(p.proxyMetadata).map(([name, value]) => ({ name, value })),
  ];
}

export function sidecarContainer(i: SidecarInputs, native: boolean): Named {
  const health = { httpGet: { path: "/healthz/ready", port: SIDECAR_PORTS.health, scheme: "HTTP" } };
  const hold = i.options.proxy.holdApplicationUntilProxyStarts && !native;
  return {
    name: SIDECAR_NAME,
    image: i.settings.image,
    args: ["proxy", "sidecar", "--drain-timeout", String(i.options.proxy.terminationDrainSeconds)],
    ports: [{ containerPort: SIDECAR_PORTS.stats, name: "http-stats", protocol: "TCP" }],
    env: sidecarEnv(i),
    resources: resources(i.options),
    ...(native ? { restartPolicy: "Always" } : {}),
    readinessProbe: { ...health, initialDelaySeconds: 0, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 },
    startupProbe: { ...health, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
    // Without native sidecars, the app container starts only after this hook returns: the proxy is ready first.
    ...(hold ? { lifecycle: { postStart: { exec: { command: ["trellis", "proxy", "wait"] } } } } : {}),
    securityContext: {
      allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, runAsGroup: PROXY_UID, runAsNonRoot: true, runAsUser: PROXY_UID,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [
      { name: "istio-envoy", mountPath: BOOTSTRAP_DIR },
      { name: "istio-podinfo", mountPath: PODINFO_DIR },
      { name: "istio-token", mountPath: TOKEN_DIR },
      { name: "istiod-ca-cert", mountPath: ROOTS_DIR },
    ],
  };
}

export function sidecarVolumes(): Named[] {
  return [
    { name: "istio-envoy", emptyDir: {} },
    // Istio uses a downwardAPI volume; a projected one with a downwardAPI source is the same files.
    { name: "istio-podinfo", projected: { sources: [{ downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }, { path: "annotations", fieldRef: { fieldPath: "metadata.annotations" } }] } }] } },
    { name: "istio-token", projected: { sources: [{ serviceAccountToken: { audience: "istio-ca", expirationSeconds: 43200, path: "istio-token" } }] } },
    { name: "istiod-ca-cert", configMap: { name: "istio-ca-root-cert" } },
  ];
}
