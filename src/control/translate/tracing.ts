// Tracing for a sidecar's connection managers, as istiod writes it: the OpenTelemetry tracer exporting OTLP/HTTP
// to the collector (by default the control plane's own intake), Istio's sampling percentage and custom tags, and
// the span's service name "app.namespace" (Istio's APP_LABEL_AND_NAMESPACE).
import type { Workload } from "../registry/registry.js";

type Json = Record<string, unknown>;

export interface TracingSettings {
  /** Where spans go (host:port of an OTLP/HTTP intake). */
  collector: { address: string; port: number; path?: string };
  /** Percentage of requests sampled where the caller did not decide (Istio's default is 1). */
  samplingPercent: number;
}

export const OTLP_CLUSTER = "trellis-otlp";

export function collectorCluster(t: TracingSettings): Json {
  return {
    name: OTLP_CLUSTER, type: "STATIC", connect_timeout: "1s",
    load_assignment: { cluster_name: OTLP_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: t.collector.address, port_value: t.collector.port } } } }] }] },
  };
}

export function hcmTracing(t: TracingSettings, proxy: Workload): Json {
  const app = proxy.labels["service.istio.io/canonical-name"] ?? proxy.labels.app ?? proxy.name;
  const literal = (tag: string, value: string) => ({ tag, literal: { value } });
  return {
    random_sampling: { value: t.samplingPercent },
    custom_tags: [
      literal("istio.canonical_service", app),
      literal("istio.canonical_revision", proxy.labels["service.istio.io/canonical-revision"] ?? proxy.labels.version ?? "latest"),
      literal("istio.namespace", proxy.namespace),
      literal("istio.mesh_id", "cluster.local"),
      literal("istio.cluster_id", "Kubernetes"),
    ],
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: {
        "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
        service_name: `${app}.${proxy.namespace}`,
        http_service: { http_uri: { uri: `http://${t.collector.address}:${t.collector.port}${t.collector.path ?? "/v1/traces"}`, cluster: OTLP_CLUSTER, timeout: "2s" } },
      },
    },
  };
}
