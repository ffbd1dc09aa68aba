// What `trellis run` starts for one workload in explicit mode: the sidecar's bootstrap (its node metadata registers the
// workload), the ports it uses, and the environment that points the app at its per-upstream local ports.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { claimPort } from "./port-reservations.js";

export interface UpstreamSpec {
  service: string;
  port: number;
  localPort: number;
}

export interface WorkloadSpec {
  service: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  servicePort: number;
  protocol: string;
  upstreams: UpstreamSpec[];
  xdsAddress: string;
  /** "region/zone/subzone" for the bootstrap node (locality load balancing); undefined = none. */
  locality?: string;
}

export interface WorkloadPorts {
  app: number;
  inbound: number;
  admin: number;
  readiness: number;
  /** Istio's agent port (15020): merged proxy and app metrics. */
  stats: number;
}

/**
 * A port free now, from below Linux's ephemeral range (32768-60999): a port picked now is bound later by another
 * process, and the kernel hands ephemeral ports to outgoing connections, which would otherwise race for it. Claimed
 * (port-reservations.ts) so that no other `trellis` process on this machine picks it before it is bound.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (!claimPort(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free port found in 20000-31999 after 50 tries");
}

export async function pickPorts(): Promise<WorkloadPorts> {
  const [app, inbound, admin, readiness, stats] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  return { app, inbound, admin, readiness, stats };
}

/** "reviews:9080=19081" or "reviews:9080" (local port picked later). */
export function parseUpstream(text: string): { service: string; port: number; localPort?: number } {
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?):(\d+)(?:=(\d+))?$/.exec(text);
  if (!m) throw new Error(`--upstream "${text}" must look like SERVICE:PORT or SERVICE:PORT=LOCALPORT (e.g. reviews:9080=19081)`);
  const port = Number(m[3]);
  const localPort = m[4] ? Number(m[4]) : undefined;
  for (const p of [port, localPort]) if (p !== undefined && (p < 1 || p > 65535)) throw new Error(`--upstream "${text}": ports are 1-65535`);
  return { service: m[1], port, localPort };
}

export function parseLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const pair of text.split(",")) {
    const [k, v] = pair.split("=");
    if (!k || v === undefined) throw new Error(`--labels "${text}" must look like key=value,key=value`);
    out[k.trim()] = v.trim();
  }
  return out;
}

export function nodeId(spec: WorkloadSpec): string {
  return `${spec.service}-${spec.labels.version ?? "v1"}-${randomBytes(3).toString("hex")}.${spec.namespace}`;
}

/**
 * The Envoy bootstrap for the sidecar: ADS to the control plane, node metadata describing the workload. With `ca`,
 * the workload gets a mesh certificate and ADS goes over TLS to the CA's port (Istio's 15012), trusting the mesh root.
 */
export function sidecarBootstrap(spec: WorkloadSpec, ports: WorkloadPorts, id: string, ca?: { address: string; rootsFile: string }): object {
  // Several control-plane replicas (comma-separated) become the xDS cluster's endpoints, which the proxy fails over between.
  const replicas = (ca?.address ?? spec.xdsAddress).split(",").map((a) => splitHostPort(a.trim()));
  const mtls = ca !== undefined;
  return {
    node: {
      id,
      cluster: `${spec.service}.${spec.namespace}`,
      ...(spec.locality ? { locality: localityNode(spec.locality) } : {}),
      metadata: {
        NAMESPACE: spec.namespace,
        WORKLOAD_NAME: `${spec.service}-${spec.labels.version ?? "v1"}`,
        SERVICE: spec.service,
        LABELS: { app: spec.service, ...spec.labels },
        SERVICE_ACCOUNT: spec.serviceAccount,
        INSTANCE_IP: "127.0.0.1",
        INBOUND_PORT: ports.inbound,
        APP_PORT: ports.app,
        SERVICE_PORTS: [{ port: spec.servicePort, name: spec.protocol.toLowerCase(), protocol: spec.protocol }],
        UPSTREAMS: spec.upstreams.map((u) => ({ host: u.service, port: u.port, localPort: u.localPort })),
        ADMIN_ADDRESS: `127.0.0.1:${ports.admin}`,
        STATS_ADDRESS: `127.0.0.1:${ports.stats}`,
        MTLS_READY: mtls,
      },
    },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: ports.admin } } },
    dynamic_resources: {
      ads_config: { api_type: "GRPC", transport_api_version: "V3", grpc_services: [{ envoy_grpc: { cluster_name: "xds-grpc" } }] },
      cds_config: { ads: {}, resource_api_version: "V3" },
      lds_config: { ads: {}, resource_api_version: "V3" },
    },
    static_resources: {
      clusters: [{
        name: "xds-grpc", type: "STATIC", connect_timeout: "1s",
        typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } },
        load_assignment: { cluster_name: "xds-grpc", endpoints: [{ lb_endpoints: replicas.map(([host, port]) => ({ endpoint: { address: { socket_address: { address: host, port_value: port } } } })) }] },
        ...(ca ? { transport_socket: { name: "envoy.transport_sockets.tls", typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          sni: "istiod.istio-system.svc",
          common_tls_context: { validation_context: { trusted_ca: { filename: ca.rootsFile } } },
        } } } : {}),
      }],
    },
  };
}

export function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(":");
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new Error(`"${addr}" must be HOST:PORT`);
  return [addr.slice(0, i).replace(/^\[|\]$/g, ""), port];
}

/** The app's environment: its own port, and each upstream as Istio's Bookinfo reads it (NAME_HOSTNAME, NAME_SERVICE_PORT). */
export function appEnv(spec: WorkloadSpec, ports: WorkloadPorts): Record<string, string> {
  const env: Record<string, string> = { PORT: String(ports.app), HOST: "127.0.0.1", TRELLIS_APP_PORT: String(ports.app) };
  for (const u of spec.upstreams) {
    const key = u.service.toUpperCase().replace(/[^A-Z0-9]/g, "_");
    env[`${key}_HOSTNAME`] = "127.0.0.1";
    env[`${key}_SERVICE_PORT`] = String(u.localPort);
  }
  return env;
}

/** `--locality region/zone/subzone` (zone and subzone optional) as an xDS node locality. */
export function localityNode(s: string): { region: string; zone: string; sub_zone: string } {
  const parts = s.split("/");
  if (parts.length > 3 || !parts[0] || parts.some((p) => !/^[A-Za-z0-9._-]*$/.test(p))) throw new Error(`--locality "${s}" must be REGION[/ZONE[/SUBZONE]] (letters, digits, . _ -), e.g. us-east/us-east-1a`);
  return { region: parts[0], zone: parts[1] ?? "", sub_zone: parts[2] ?? "" };
}
