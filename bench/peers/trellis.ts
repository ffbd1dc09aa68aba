// Trellis as the system under test: two `trellis proxy` processes from static Envoy bootstraps, chained. Variants
// turn on what a sidecar pays for telemetry: Istio's metrics (the node names its workload and the listeners their
// traffic direction, as the control plane does), tracing every request to an OTLP sink, and an access log.
import { PROXY_NODE_FLAGS } from "../../src/cli/proxy-node-flags.js";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, start } from "../lib/processes.js";
import { type Chain, listening, type Peer, type Protocol } from "./chain.js";
import { meshCerts, type MeshCerts } from "../lib/mesh-certs.js";

const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.";

/** The server-side listener's context, as Istio's inbound: client certificates required, checked against the root. */
function downstreamTls(c: MeshCerts): object {
  return { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}DownstreamTlsContext`, require_client_certificate: true, common_tls_context: {
    alpn_protocols: ["h2", "http/1.1"],
    tls_certificates: [{ certificate_chain: { filename: c.server.cert }, private_key: { filename: c.server.key } }],
    validation_context: { trusted_ca: { filename: c.root } },
  } } };
}

/** The client-side cluster's context, as Istio's outbound: its own certificate, the peer's SPIFFE ID checked. */
function upstreamTls(c: MeshCerts): object {
  return { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}UpstreamTlsContext`, sni: "outbound_.9080_._.server.default.svc.cluster.local", common_tls_context: {
    alpn_protocols: ["http/1.1"],
    tls_certificates: [{ certificate_chain: { filename: c.client.cert }, private_key: { filename: c.client.key } }],
    validation_context: { trusted_ca: { filename: c.root }, match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: c.server.spiffe } }] },
  } } };
}

const CLI = "dist/src/cli/main.js";
/** BENCH_TRELLIS_FLAGS: Node flags added to every Trellis proxy (heap settings, --trace-gc, --cpu-prof), for experiments. */
export const EXTRA_FLAGS = (process.env.BENCH_TRELLIS_FLAGS ?? "").split(/\s+/).filter(Boolean);
// --drain-timeout 0: a proxy is stopped only after its measurement, and the default 5 s drain of idle keep-alive
// connections would add 5 s to every chain of every round.

export interface TrellisFeatures {
  metrics?: boolean;
  /** Trace 100% of requests, exporting to a sink on this port (OTLP/HTTP unless `tracer` says otherwise). */
  tracingSinkPort?: number;
  tracer?: "otlp-http" | "otlp-grpc" | "zipkin";
  accessLog?: boolean;
}

const H2_OPTIONS = { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } };

/** The tracer telemetry-cost compares: OpenTelemetry over HTTP or gRPC, or Zipkin JSON v2, to the "otlp" cluster. */
function tracerProvider(name: string, tracer: NonNullable<TrellisFeatures["tracer"]>, port: number): object {
  if (tracer === "zipkin") return { name: "envoy.tracers.zipkin", typed_config: { "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig", collector_cluster: "otlp", collector_endpoint: "/api/v2/spans", collector_endpoint_version: "HTTP_JSON", trace_id_128bit: true } };
  const transport = tracer === "otlp-grpc"
    ? { grpc_service: { envoy_grpc: { cluster_name: "otlp" }, timeout: "2s" } }
    : { http_service: { http_uri: { uri: `http://127.0.0.1:${port}/v1/traces`, cluster: "otlp", timeout: "2s" } } };
  return { name: "envoy.tracers.opentelemetry", typed_config: { "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig", service_name: `${name}.default`, ...transport } };
}

/** HTTP/2 and gRPC: the connection manager takes either codec (it sniffs the preface) and the cluster speaks h2. */
function bootstrap(name: string, direction: "OUTBOUND" | "INBOUND", listenPort: number, nextPort: number, adminPort: number, f: TrellisFeatures, protocol: Protocol, certs?: MeshCerts): object {
  const hcm: Record<string, unknown> = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: name,
    route_config: { name: "bench", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "next" } }] }] },
    http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
  };
  const clusters: object[] = [{
    name: "next", type: "STATIC", connect_timeout: "1s",
    load_assignment: { cluster_name: "next", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: nextPort } } }, ...(f.metrics ? { metadata: { filter_metadata: { istio: { workload: "backend-v1;default;backend;v1;" } } } } : {}) }] }] },
    ...(certs && direction === "OUTBOUND" ? { transport_socket: upstreamTls(certs) } : {}),
    ...(protocol === "h2" || protocol === "grpc" ? { typed_extension_protocol_options: H2_OPTIONS } : {}),
  }];
  const filter = protocol === "tcp"
    ? { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: name, cluster: "next" } }
    : { name: "envoy.filters.network.http_connection_manager", typed_config: hcm };
  if (f.tracingSinkPort) {
    hcm.tracing = { random_sampling: { value: 100 }, provider: tracerProvider(name, f.tracer ?? "otlp-http", f.tracingSinkPort) };
    clusters.push({ name: "otlp", type: "STATIC", connect_timeout: "1s", load_assignment: { cluster_name: "otlp", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: f.tracingSinkPort } } } }] }] }, ...(f.tracer === "otlp-grpc" ? { typed_extension_protocol_options: H2_OPTIONS } : {}) });
  }
  if (f.accessLog) hcm.access_log = [{ name: "envoy.access_loggers.file", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: "/dev/null" } }];
  return {
    node: { id: name, cluster: name, ...(f.metrics ? { metadata: { NAMESPACE: "default", WORKLOAD_NAME: name, LABELS: { app: name, version: "v1" }, SERVICE: name } } : {}) },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } },
    static_resources: {
      listeners: [{
        name: "bench",
        traffic_direction: f.metrics ? direction : "UNSPECIFIED",
        address: { socket_address: { address: "127.0.0.1", port_value: listenPort } },
        filter_chains: [{ filters: [filter], ...(certs && direction === "INBOUND" ? { transport_socket: downstreamTls(certs) } : {}) }],
      }],
      clusters,
    },
  };
}

export function trellisPeer(name: string, features: TrellisFeatures = {}): Peer {
  return {
    name,
    available: () => (existsSync(CLI) ? undefined : "trellis is not built (npm run build)"),
    async startChain(backendPort, options): Promise<Chain> {
      const protocol = options.protocol ?? "http1";
      if (options.tls && protocol !== "http1") throw new Error(`trellis peer: mutual TLS is set up for http1 only, not ${protocol}`);
      const dir = mkdtempSync(join(tmpdir(), "trellis-bench-"));
      const [serverSide, clientSide, a1, a2, r1, r2] = await Promise.all(Array.from({ length: 6 }, freePort));
      const certs = options.tls ? await meshCerts() : undefined;
      const proc = (side: string, file: string, readiness: number) => start(`trellis-${side}`, process.execPath, [...PROXY_NODE_FLAGS, ...EXTRA_FLAGS, CLI, "proxy", "--bootstrap", join(dir, file), "--readiness-port", String(readiness), "--drain-timeout", "0"], {}, options.cpus);
      writeFileSync(join(dir, "server.json"), JSON.stringify(bootstrap("server-side", "INBOUND", serverSide, backendPort, a1, features, protocol, certs)));
      const procs = [proc("server", "server.json", r1)];
      if (options.hops !== 1) {
        writeFileSync(join(dir, "client.json"), JSON.stringify(bootstrap("client-side", "OUTBOUND", clientSide, serverSide, a2, features, protocol, certs)));
        procs.push(proc("client", "client.json", r2));
      }
      const entryPort = options.hops === 1 ? serverSide : clientSide;
      await listening(procs, [serverSide, entryPort]);
      return { entryPort, serverPort: serverSide, procs, adminPorts: options.hops === 1 ? [a1] : [a1, a2], stop: async () => { await Promise.all(procs.map((p) => p.stop())); } };
    },
  };
}

export const trellis = trellisPeer("trellis");
