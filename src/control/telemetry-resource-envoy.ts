// A proxy's resolved telemetry (telemetry-resource.ts) as Envoy config, as istiod writes it: the HCM's tracing
// (envoy.tracers.zipkin or envoy.tracers.opentelemetry over gRPC or HTTP) and access_log (file loggers) per
// mode, and one cluster per provider reaching its backend (the mesh service's endpoints when the registry
// knows the host, else the host by DNS or IP). Without Telemetry resources or defaultProviders, MeshConfig's legacy
// tracing (the embedded intake or --otlp-collector) and accessLogFile apply, as before.
import { isIP } from "node:net";
import type { IstioResource } from "../api/resource.js";
import type { Workload } from "./registry/registry.js";
import { type CustomTag, type MeshTelemetry, type ModeTracing, resolveTelemetry } from "./telemetry-resource.js";
import type { Endpoint, TelemetryProvider } from "./telemetry-providers.js";
import { collectorCluster, hcmTracing, type TracingSettings } from "./translate/tracing.js";
import { fqdn, type Service } from "./translate/services.js";

type Json = Record<string, unknown>;

export interface TelemetryInput {
  resources: IstioResource[];
  proxy: Workload;
  root: string;
  services: Map<string, Service>;
  mesh?: MeshTelemetry;
  /** MeshConfig's legacy tracing (sampling and the collector), undefined = tracing off. */
  legacyTracing?: TracingSettings;
  /** MeshConfig accessLogFile as Envoy access loggers. */
  legacyAccessLog?: Json[];
}

/** What each side's connection managers get (tracing, access_log), and the clusters the providers need. */
export interface ProxyTelemetry {
  client: { tracing?: Json; access_log?: Json[] };
  server: { tracing?: Json; access_log?: Json[] };
  clusters: Json[];
}

const H2 = { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } };

export function providerCluster(p: { name: string }): string {
  return `trellis-telemetry|${p.name}`;
}

/** The provider's backend: the registry's endpoints for a mesh host, else a DNS name or an IP. */
function backendCluster(p: TelemetryProvider & { target: Endpoint }, input: TelemetryInput, grpc: boolean): Json {
  const name = providerCluster(p);
  const { service, port } = p.target;
  const mesh = input.services.get(fqdn(service, input.proxy.namespace)) ?? input.services.get(service);
  const lb = mesh
    ? mesh.endpoints.map((w) => ({ endpoint: { address: { socket_address: { address: w.address, port_value: w.portTargets?.[port] ?? (w.inboundPort || port) } } } }))
    : [{ endpoint: { address: { socket_address: { address: service, port_value: port } } } }];
  return {
    name, type: mesh || isIP(service) ? "STATIC" : "STRICT_DNS", connect_timeout: "1s",
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: lb }] },
    ...(grpc ? { typed_extension_protocol_options: H2 } : {}),
  };
}

function envoyTags(tags: Record<string, CustomTag>): Json[] {
  return Object.entries(tags).sort(([a], [b]) => a.localeCompare(b)).map(([tag, t]) => {
    if (t.literal) return { tag, literal: { value: t.literal.value } };
    if (t.environment) return { tag, environment: { name: t.environment.name, default_value: t.environment.defaultValue ?? "" } };
    return { tag, request_header: { name: t.header!.name, default_value: t.header!.defaultValue ?? "" } };
  });
}

function tracer(t: Extract<ModeTracing, { off: false }>, serviceName: string): Json {
  const p = t.provider;
  if (p.kind === "zipkin") {
    return { name: "envoy.tracers.zipkin", typed_config: {
      "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig", collector_cluster: providerCluster(p), collector_endpoint: p.path,
      collector_endpoint_version: "HTTP_JSON", trace_id_128bit: !p.traceId64, shared_span_context: false, collector_hostname: p.target.service,
    } };
  }
  const transport = p.http
    ? { http_service: { http_uri: { uri: `http://${p.target.service}:${p.target.port}${p.http.path}`, cluster: providerCluster(p), timeout: `${p.http.timeoutMs / 1000}s` }, request_headers_to_add: Object.entries(p.http.headers).map(([key, value]) => ({ header: { key, value } })) } }
    : { grpc_service: { envoy_grpc: { cluster_name: providerCluster(p), authority: p.target.service }, timeout: `${p.grpc.timeoutMs / 1000}s`, initial_metadata: p.grpc.metadata.map(([key, value]) => ({ key, value })) } };
  return { name: "envoy.tracers.opentelemetry", typed_config: { "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig", service_name: serviceName, ...transport } };
}

/** The HCM tracing block for a mode: Istio's standard tags (from tracing.ts), then the Telemetry's own custom tags. */
function modeTracing(t: ModeTracing, input: TelemetryInput): Json | undefined {
  if (t.off) return undefined;
  const sampling = t.samplingPercent ?? input.legacyTracing?.samplingPercent ?? 1;
  // tracing.ts writes Istio's tags and service name; its provider is replaced by this one.
  const base = hcmTracing({ samplingPercent: sampling, collector: { address: "127.0.0.1", port: 0 } }, input.proxy);
  const serviceName = (base.provider as { typed_config: { service_name: string } }).typed_config.service_name;
  return {
    ...base, random_sampling: { value: sampling }, custom_tags: [...(base.custom_tags as Json[]), ...envoyTags(t.customTags)],
    ...(t.provider.maxTagLength ? { max_path_tag_length: t.provider.maxTagLength } : {}), provider: tracer(t, serviceName),
  };
}

function accessLogger(p: TelemetryProvider): Json | undefined {
  if (p.kind === "envoyFileAccessLog") {
    const format = p.labels ? { log_format: { json_format: p.labels } } : p.text ? { log_format: { text_format_source: { inline_string: p.text } } } : {};
    return { name: "envoy.access_loggers.file", typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: p.path, ...format } };
  }
  // prometheus (and tracers named under accessLogging) write no access log, as in Istio.
  return undefined;
}

export function proxyTelemetry(input: TelemetryInput): ProxyTelemetry {
  const resolved = resolveTelemetry(input.resources, input.proxy, input.root, input.mesh ?? { providers: [] });
  const out: ProxyTelemetry = { client: {}, server: {}, clusters: [] };
  const used = new Map<string, TelemetryProvider>();
  if (resolved.tracing) {
    for (const [mode, side] of [["CLIENT", out.client], ["SERVER", out.server]] as const) {
      const t = resolved.tracing[mode];
      const tracing = modeTracing(t, input);
      if (tracing) side.tracing = tracing;
      if (!t.off) used.set(t.provider.name, t.provider);
    }
  } else if (input.legacyTracing) {
    out.client.tracing = out.server.tracing = hcmTracing(input.legacyTracing, input.proxy);
    out.clusters.push(collectorCluster(input.legacyTracing));
  }
  if (resolved.accessLogs) {
    for (const [mode, side] of [["CLIENT", out.client], ["SERVER", out.server]] as const) {
      const loggers = resolved.accessLogs[mode].flatMap((p): Json[] => { const l = accessLogger(p); return l ? [l] : []; });
      if (loggers.length) side.access_log = loggers;
    }
  } else if (input.legacyAccessLog) {
    out.client.access_log = out.server.access_log = input.legacyAccessLog;
  }
  for (const p of used.values()) {
    if (!("target" in p)) continue;
    const grpc = p.kind === "opentelemetry" && !p.http;
    out.clusters.push(backendCluster(p, input, grpc));
  }
  return out;
}
