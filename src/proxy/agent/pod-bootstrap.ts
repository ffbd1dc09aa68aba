// What istio-agent works out in a pod before Envoy starts, from the env the injector set: the node (id
// sidecar~IP~POD.NS~NS.svc.cluster.local, Istio's metadata), and the xDS cluster to the discovery address over TLS
// trusting the mesh roots. Pure, so tests can read the bootstrap a pod would get.
import { isIP } from "node:net";

export interface PodAgentEnv {
  podName: string;
  namespace: string;
  instanceIp: string;
  serviceAccount: string;
  discoveryAddress: string;
  trustDomain: string;
  /** ISTIO_META_* variables, as node metadata (name without the prefix). */
  meta: Record<string, string>;
  /** The pod's labels (telemetry's app and version), from the downward API file. */
  labels: Record<string, string>;
  rootsFile: string;
  statsPort: number;
}

export class AgentEnvError extends Error {
  readonly code = "TRELLIS_AGENT_ENV";
}

function splitHostPort(addr: string, what: string): [string, number] {
  const i = addr.lastIndexOf(":");
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new AgentEnvError(`${what} "${addr}" must be HOST:PORT`);
  return [addr.slice(0, i).replace(/^\[|\]$/g, ""), port];
}

/**
 * The downward API's labels file (`key="value"` per line, values quoted as Go's %q, which JSON reads for what labels
 * may hold); a line that does not parse is skipped, the rest kept.
 */
export function parseDownwardLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([^=]+)=(".*")$/.exec(line.trim());
    if (!m) continue;
    try {
      out[m[1]] = JSON.parse(m[2]) as string;
    } catch {
      // not JSON-compatible quoting: leave this label out rather than guess
    }
  }
  return out;
}

/** Reads the injected env; a missing or malformed variable is named (the pod was not injected by us, or edited). */
export function podAgentEnv(env: NodeJS.ProcessEnv, files: { rootsFile: string; labels?: Record<string, string> }): PodAgentEnv {
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new AgentEnvError(`environment variable ${name} is not set; the injector sets it (is this pod injected?)`);
    return v;
  };
  let proxyConfig: { discoveryAddress?: unknown } = {};
  if (env.PROXY_CONFIG) {
    try {
      proxyConfig = JSON.parse(env.PROXY_CONFIG) as typeof proxyConfig;
    } catch (err) {
      throw new AgentEnvError(`PROXY_CONFIG is not JSON: ${(err as Error).message}`);
    }
  }
  const namespace = need("POD_NAMESPACE");
  const discoveryAddress = typeof proxyConfig.discoveryAddress === "string" ? proxyConfig.discoveryAddress : env.CA_ADDR || `istiod.istio-system.svc:15012`;
  splitHostPort(discoveryAddress, "PROXY_CONFIG.discoveryAddress");
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith("ISTIO_META_") && v !== undefined) meta[k.slice("ISTIO_META_".length)] = v;
  const labels = files.labels ?? {};
  return {
    podName: need("POD_NAME"), namespace, instanceIp: need("INSTANCE_IP"), serviceAccount: env.SERVICE_ACCOUNT || "default",
    discoveryAddress, trustDomain: env.TRUST_DOMAIN || "cluster.local", meta, labels, rootsFile: files.rootsFile, statsPort: 15020,
  };
}

export function podBootstrap(e: PodAgentEnv): object {
  const [host, port] = splitHostPort(e.discoveryAddress, "discovery address");
  const byName = !isIP(host);
  // The control plane's serving certificate names istiod.istio-system.svc; an address given as an IP keeps that name.
  const sni = byName ? host : "istiod.istio-system.svc";
  return {
    node: {
      id: `sidecar~${e.instanceIp}~${e.podName}.${e.namespace}~${e.namespace}.svc.cluster.local`,
      cluster: `${e.podName}.${e.namespace}`,
      metadata: {
        ...e.meta,
        NAME: e.podName, NAMESPACE: e.namespace, INSTANCE_IP: e.instanceIp, SERVICE_ACCOUNT: e.serviceAccount, LABELS: e.labels,
        INTERCEPTION_MODE: "REDIRECT", STATS_ADDRESS: `${e.instanceIp}:${e.statsPort}`, MTLS_READY: true,
      },
    },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 15000 } } },
    dynamic_resources: {
      ads_config: { api_type: "GRPC", transport_api_version: "V3", grpc_services: [{ envoy_grpc: { cluster_name: "xds-grpc" } }] },
      cds_config: { ads: {}, resource_api_version: "V3" },
      lds_config: { ads: {}, resource_api_version: "V3" },
    },
    static_resources: {
      clusters: [{
        name: "xds-grpc", type: byName ? "STRICT_DNS" : "STATIC", connect_timeout: "1s",
        typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } },
        load_assignment: { cluster_name: "xds-grpc", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }] },
        transport_socket: { name: "envoy.transport_sockets.tls", typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          sni,
          common_tls_context: { validation_context: { trusted_ca: { filename: e.rootsFile } } },
        } },
      }],
    },
  };
}
