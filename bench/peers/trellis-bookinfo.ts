// A Trellis sidecar with a Bookinfo-sized config, for memory: productpage's sidecar as Istio would shape it, with
// Istio's metrics on, a mutual-TLS inbound listener for the app, outbound listeners for details, reviews and ratings
// (reviews split 50/30/20 over v1-v3, retries as Istio's default), and a cluster per service and subset (11 clusters).
// It is a static bootstrap, not pushed over xDS; the outbound clusters are plaintext (mTLS disabled) so that load can
// go through the reviews listener to the bench backend, which stands in for every service.
import { PROXY_NODE_FLAGS } from "../../src/cli/proxy-node-flags.js";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meshCerts, type MeshCerts } from "../lib/mesh-certs.js";
import { freePort, start } from "../lib/processes.js";
import { type Chain, listening, type Peer } from "./chain.js";
import { EXTRA_FLAGS } from "./trellis.js";

const CLI = "dist/src/cli/main.js";
// --drain-timeout 0: a proxy is stopped only after its measurement, and the default 5 s drain of idle keep-alive
// connections would add 5 s to every chain of every round.
const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.";
const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };
const RETRY = { retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", num_retries: 2, retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" } }], host_selection_retry_max_attempts: "5" };
const SERVICES: Record<string, string[]> = { productpage: ["v1"], details: ["v1"], reviews: ["v1", "v2", "v3"], ratings: ["v1"] };

const host = (svc: string) => `${svc}.default.svc.cluster.local`;
const socket = (port: number) => ({ socket_address: { address: "127.0.0.1", port_value: port } });

function cluster(name: string, port: number, workload: string): object {
  return {
    name, type: "STATIC", connect_timeout: "10s", lb_policy: "LEAST_REQUEST",
    circuit_breakers: { thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295 }] },
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(port) }, metadata: { filter_metadata: { istio: { workload } } } }] }] },
  };
}

function hcm(statPrefix: string, routeName: string, virtualHosts: object[]): object {
  return { name: "envoy.filters.network.http_connection_manager", typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: statPrefix, use_remote_address: false, normalize_path: true, merge_slashes: true,
    route_config: { name: routeName, virtual_hosts: virtualHosts },
    http_filters: [ROUTER],
  } };
}

function outboundRoute(svc: string): object {
  const subsets = SERVICES[svc];
  const weights = subsets.length === 3 ? [50, 30, 20] : [100];
  const route = subsets.length > 1
    ? { weighted_clusters: { clusters: subsets.map((v, i) => ({ name: `outbound|9080|${v}|${host(svc)}`, weight: weights[i] })) }, timeout: "0s", retry_policy: RETRY }
    : { cluster: `outbound|9080|${subsets[0]}|${host(svc)}`, timeout: "0s", retry_policy: RETRY };
  return { name: `${host(svc)}:9080`, domains: [host(svc), `${host(svc)}:9080`, svc, `${svc}:9080`, `${svc}.default`, `${svc}.default.svc`, "*"], routes: [{ name: "default", match: { prefix: "/" }, route }] };
}

function bootstrap(backendPort: number, inboundPort: number, outbound: Record<string, number>, adminPort: number, certs: MeshCerts): object {
  const clusters: object[] = [cluster("inbound|9080||", backendPort, "productpage-v1;default;productpage;v1;")];
  for (const [svc, subsets] of Object.entries(SERVICES)) {
    clusters.push(cluster(`outbound|9080||${host(svc)}`, backendPort, `${svc}-v1;default;${svc};v1;`));
    for (const v of subsets) clusters.push(cluster(`outbound|9080|${v}|${host(svc)}`, backendPort, `${svc}-${v};default;${svc};${v};`));
  }
  const inboundTls = { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}DownstreamTlsContext`, require_client_certificate: true, common_tls_context: {
    alpn_protocols: ["h2", "http/1.1"],
    tls_certificates: [{ certificate_chain: { filename: certs.server.cert }, private_key: { filename: certs.server.key } }],
    validation_context: { trusted_ca: { filename: certs.root } },
  } } };
  const listeners: object[] = [{
    name: "virtualInbound", traffic_direction: "INBOUND", address: socket(inboundPort),
    filter_chains: [{ filters: [hcm("inbound_0.0.0.0_9080", "inbound|9080||", [{ name: "inbound|http|9080", domains: ["*"], routes: [{ name: "default", match: { prefix: "/" }, route: { cluster: "inbound|9080||", timeout: "0s" } }] }])], transport_socket: inboundTls }],
  }];
  for (const [svc, port] of Object.entries(outbound)) {
    listeners.push({ name: `outbound_${svc}_9080`, traffic_direction: "OUTBOUND", address: socket(port), filter_chains: [{ filters: [hcm(`outbound_0.0.0.0_9080_${svc}`, "9080", [outboundRoute(svc)])] }] });
  }
  return {
    node: { id: "sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local", cluster: "productpage.default", metadata: { NAMESPACE: "default", WORKLOAD_NAME: "productpage-v1", LABELS: { app: "productpage", version: "v1" }, SERVICE: "productpage" } },
    admin: { address: socket(adminPort) },
    static_resources: { listeners, clusters },
  };
}

/** One sidecar (hops 1 only): load enters at its outbound reviews listener. */
export const trellisBookinfo: Peer = {
  name: "trellis-bookinfo",
  available: () => (existsSync(CLI) ? undefined : "trellis is not built (npm run build)"),
  async startChain(backendPort, options): Promise<Chain> {
    if (options.hops !== 1 || options.tls || (options.protocol ?? "http1") !== "http1") throw new Error("trellis-bookinfo peer: only one plaintext HTTP/1.1 sidecar (hops: 1, tls: false)");
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-bookinfo-"));
    const [inbound, details, reviews, ratings, admin, readiness] = await Promise.all(Array.from({ length: 6 }, freePort));
    writeFileSync(join(dir, "sidecar.json"), JSON.stringify(bootstrap(backendPort, inbound, { details, reviews, ratings }, admin, await meshCerts())));
    const proc = start("trellis-bookinfo", process.execPath, [...PROXY_NODE_FLAGS, ...EXTRA_FLAGS, CLI, "proxy", "--bootstrap", join(dir, "sidecar.json"), "--readiness-port", String(readiness), "--drain-timeout", "0"], {}, options.cpus);
    await listening([proc], [inbound, details, reviews, ratings]);
    return { entryPort: reviews, serverPort: inbound, procs: [proc], adminPorts: [admin], stop: () => proc.stop() };
  },
};
