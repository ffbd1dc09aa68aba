// The tracers a connection manager's tracing.provider may name, registered by typed_config type: each decodes its
// config into where spans go (an exporter target) and how trace ids are made. Adding a tracer is one entry here.
import type { OpenTelemetryConfig__Output } from "../../xds/generated/envoy/config/trace/v3/OpenTelemetryConfig.js";
import type { ZipkinConfig__Output } from "../../xds/generated/envoy/config/trace/v3/ZipkinConfig.js";
import { type AnyValue, decodeAny } from "../../xds/resource.js";
import { formatErrors } from "../../xds/result.js";
import { durationMs } from "../util/duration.js";
import type { ExporterTarget } from "./span-sink.js";

export interface TracerProvider {
  target: ExporterTarget;
  /** New traces get 64-bit ids (Zipkin without trace_id_128bit), zero-padded to 128 bits in W3C headers. */
  traceId64: boolean;
}

export interface ProviderContext {
  /** The node's cluster (Envoy's local service name for Zipkin). */
  nodeCluster(): string;
}

type Build = (any: AnyValue, ctx: ProviderContext, where: string) => TracerProvider;

const PREFIX = "type.googleapis.com/";
const providers = new Map<string, Build>();

function decoded<T>(any: AnyValue, where: string): T {
  const r = decodeAny<T>(any, where);
  if (!r.ok) throw new Error(formatErrors(r.errors));
  return r.value;
}

providers.set(`${PREFIX}envoy.config.trace.v3.OpenTelemetryConfig`, (any, _ctx, where) => {
  const otel = decoded<OpenTelemetryConfig__Output>(any, where);
  const resource = { "service.name": otel.service_name || "unknown_service:trellis-proxy" };
  const grpc = otel.grpc_service;
  if (grpc) {
    if (!grpc.envoy_grpc?.cluster_name) throw new Error(`${where}.grpc_service: only envoy_grpc (cluster_name) is supported; google_grpc is not`);
    return {
      traceId64: false,
      target: {
        protocol: "otlp-grpc", cluster: grpc.envoy_grpc.cluster_name, authority: grpc.envoy_grpc.authority || grpc.envoy_grpc.cluster_name,
        metadata: grpc.initial_metadata.map((h) => [h.key.toLowerCase(), h.value]), timeoutMs: durationMs(grpc.timeout, 1000), resource,
      },
    };
  }
  const http = otel.http_service;
  if (!http?.http_uri) throw new Error(`${where}: name the collector with grpc_service (envoy_grpc.cluster_name) or http_service.http_uri {uri, cluster, timeout}`);
  let url: URL;
  try {
    url = new URL(http.http_uri.uri);
  } catch {
    throw new Error(`${where}.http_service.http_uri.uri: "${http.http_uri.uri}" is not a URL; write e.g. http://collector:4318/v1/traces`);
  }
  if (!http.http_uri.cluster) throw new Error(`${where}.http_service.http_uri.cluster: name the cluster that reaches the collector`);
  const headers: Record<string, string> = {};
  for (const h of http.request_headers_to_add) if (h.header) headers[h.header.key.toLowerCase()] = h.header.value;
  return {
    traceId64: false,
    target: { protocol: "otlp", cluster: http.http_uri.cluster, url, timeoutMs: durationMs(http.http_uri.timeout, 1000), headers, resource },
  };
});

providers.set(`${PREFIX}envoy.config.trace.v3.ZipkinConfig`, (any, ctx, where) => {
  const z = decoded<ZipkinConfig__Output>(any, where);
  if (z.collector_endpoint_version !== "HTTP_JSON") throw new Error(`${where}.collector_endpoint_version: ${z.collector_endpoint_version} is not supported (HTTP_JSON is: Zipkin's JSON v2)`);
  if (!z.collector_endpoint.startsWith("/")) throw new Error(`${where}.collector_endpoint: "${z.collector_endpoint}" must be a path, e.g. /api/v2/spans`);
  return {
    traceId64: !z.trace_id_128bit,
    // Envoy's Host header for the collector: collector_hostname, else the cluster's name.
    target: { protocol: "zipkin", cluster: z.collector_cluster, path: z.collector_endpoint, host: z.collector_hostname || z.collector_cluster, serviceName: ctx.nodeCluster() || "unknown", timeoutMs: 5000 },
  };
});

/** The provider a tracing.provider.typed_config names; throws naming the field when unsupported or invalid. */
export function tracerProvider(any: AnyValue | null | undefined, ctx: ProviderContext, where: string): TracerProvider {
  if (!any) throw new Error(`${where}: a tracer is required (envoy.tracers.opentelemetry or envoy.tracers.zipkin)`);
  const build = providers.get(any.type_url);
  if (!build) throw new Error(`${where}.typed_config: ${any.type_url} is not supported (${[...providers.keys()].map((k) => k.slice(PREFIX.length)).join(", ")} are)`);
  return build(any, ctx, `${where}.typed_config`);
}
