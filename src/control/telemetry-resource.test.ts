// Telemetry resolution as istiod does it, in tables: which resources apply (root, namespace, oldest matching
// selector), how levels override per mode, defaultProviders, access-log scoping, and the Envoy config that results.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IstioResource } from "../api/resource.js";
import { resolveTelemetry, type TelemetrySpec } from "./telemetry-resource.js";
import { proxyTelemetry } from "./telemetry-resource-envoy.js";
import type { TelemetryProvider } from "./telemetry-providers.js";
import { parseMeshConfig } from "./mesh-config.js";
import type { Workload } from "./registry/registry.js";

function tel(namespace: string, name: string, spec: TelemetrySpec, creationTimestamp = "2026-01-01T00:00:00Z"): IstioResource {
  return { apiVersion: "telemetry.istio.io/v1", kind: "Telemetry", metadata: { name, namespace, creationTimestamp }, spec } as unknown as IstioResource;
}

const providers: TelemetryProvider[] = [
  { name: "zipkin", kind: "zipkin", target: { service: "zipkin.istio-system", port: 9411 }, path: "/api/v2/spans", traceId64: false },
  { name: "otel", kind: "opentelemetry", target: { service: "otel-collector.observability.svc.cluster.local", port: 4317 }, grpc: { timeoutMs: 2000, metadata: [] } },
  { name: "prom", kind: "prometheus" },
];
const mesh = { providers };
const reviews = { namespace: "default", labels: { app: "reviews", version: "v1" } };

function providerOf(r: ReturnType<typeof resolveTelemetry>, mode: "CLIENT" | "SERVER"): string {
  const t = r.tracing![mode];
  return t.off ? `off: ${t.reason}` : `${t.provider.name}@${t.samplingPercent ?? "default"}`;
}

test("no Telemetry and no default provider: MeshConfig's legacy settings apply", () => {
  const r = resolveTelemetry([tel("other", "x", { tracing: [{ providers: [{ name: "zipkin" }] }] })], reviews, "istio-system", mesh);
  assert.equal(r.tracing, undefined);
  assert.equal(r.accessLogs, undefined);
  assert.deepEqual(r.applied, [], "a Telemetry in another namespace does not apply");
});

test("root, then namespace, then workload: later levels override provider and sampling per mode", () => {
  const resources = [
    tel("istio-system", "mesh", { tracing: [{ providers: [{ name: "zipkin" }], randomSamplingPercentage: 10 }] }),
    tel("default", "ns", { tracing: [{ match: { mode: "CLIENT" }, providers: [{ name: "otel" }] }] }),
    tel("default", "reviews", { selector: { matchLabels: { app: "reviews" } }, tracing: [{ match: { mode: "SERVER" }, randomSamplingPercentage: 100, customTags: { team: { literal: { value: "books" } } } }] }),
    tel("default", "ratings", { selector: { matchLabels: { app: "ratings" } }, tracing: [{ disableSpanReporting: true }] }),
  ];
  const r = resolveTelemetry(resources, reviews, "istio-system", mesh);
  assert.deepEqual(r.applied, ["istio-system/mesh", "default/ns", "default/reviews"]);
  assert.equal(providerOf(r, "CLIENT"), "otel@10");
  assert.equal(providerOf(r, "SERVER"), "zipkin@100");
  assert.deepEqual(!r.tracing!.SERVER.off && r.tracing!.SERVER.customTags, { team: { literal: { value: "books" } } });
  const ratings = resolveTelemetry(resources, { namespace: "default", labels: { app: "ratings" } }, "istio-system", mesh);
  assert.equal(providerOf(ratings, "CLIENT"), "off: disableSpanReporting");
  const elsewhere = resolveTelemetry(resources, { namespace: "shop", labels: { app: "reviews" } }, "istio-system", mesh);
  assert.equal(providerOf(elsewhere, "SERVER"), "zipkin@10", "only the root Telemetry reaches another namespace");
});

test("the oldest of two matching workload Telemetries wins; unknown and non-tracer providers turn tracing off, named", () => {
  const resources = [
    tel("default", "newer", { selector: { matchLabels: { app: "reviews" } }, tracing: [{ providers: [{ name: "zipkin" }] }] }, "2026-02-01T00:00:00Z"),
    tel("default", "older", { selector: { matchLabels: { version: "v1" } }, tracing: [{ providers: [{ name: "nope" }] }] }, "2026-01-01T00:00:00Z"),
  ];
  const r = resolveTelemetry(resources, reviews, "istio-system", mesh);
  assert.deepEqual(r.applied, ["default/older"]);
  assert.equal(providerOf(r, "CLIENT"), `off: provider "nope" is not in extensionProviders`);
  const prom = resolveTelemetry([tel("default", "p", { tracing: [{ providers: [{ name: "prom" }] }] })], reviews, "istio-system", mesh);
  assert.equal(providerOf(prom, "SERVER"), `off: provider "prom" is prometheus, not a tracer (zipkin or opentelemetry)`);
});

test("defaultProviders apply without any Telemetry; a Telemetry without providers keeps them and sets sampling", () => {
  const withDefaults = { providers, defaults: { tracing: ["otel"], accessLogging: ["envoy"], metrics: [] } };
  const none = resolveTelemetry([], reviews, "istio-system", withDefaults);
  assert.equal(providerOf(none, "CLIENT"), "otel@default");
  assert.deepEqual(none.accessLogs!.SERVER.map((p) => p.name), ["envoy"]);
  const sampled = resolveTelemetry([tel("default", "s", { tracing: [{ randomSamplingPercentage: 5 }] })], reviews, "istio-system", withDefaults);
  assert.equal(providerOf(sampled, "SERVER"), "otel@5");
});

test("access logging: the most specific level naming providers scopes them; disabled per mode removes one", () => {
  const resources = [
    tel("istio-system", "mesh", { accessLogging: [{ providers: [{ name: "envoy" }] }] }),
    tel("default", "reviews", { selector: { matchLabels: { app: "reviews" } }, accessLogging: [{ match: { mode: "CLIENT" }, disabled: true }] }),
  ];
  const r = resolveTelemetry(resources, reviews, "istio-system", mesh);
  assert.deepEqual(r.accessLogs!.CLIENT, []);
  assert.deepEqual(r.accessLogs!.SERVER.map((p) => p.kind), ["envoyFileAccessLog"]);
});

test("as Envoy config: zipkin and OTLP/gRPC tracers per side, Istio's tags kept, one cluster per provider", () => {
  const proxy = { name: "reviews-v1", namespace: "default", labels: { app: "reviews", version: "v1" } } as unknown as Workload;
  const resources = [
    tel("istio-system", "mesh", { tracing: [{ providers: [{ name: "zipkin" }], randomSamplingPercentage: 25 }], accessLogging: [{ providers: [{ name: "envoy" }] }] }),
    tel("default", "ns", { tracing: [{ match: { mode: "CLIENT" }, providers: [{ name: "otel" }], customTags: { env: { environment: { name: "STAGE", defaultValue: "dev" } } } }] }),
  ];
  const out = proxyTelemetry({ resources, proxy, root: "istio-system", services: new Map(), mesh });
  const server = out.server.tracing as { random_sampling: unknown; provider: { name: string; typed_config: Record<string, unknown> }; custom_tags: Array<{ tag: string }> };
  const client = out.client.tracing as typeof server;
  assert.equal(server.provider.name, "envoy.tracers.zipkin");
  assert.deepEqual(server.random_sampling, { value: 25 });
  assert.equal(server.provider.typed_config.collector_cluster, "trellis-telemetry|zipkin");
  assert.equal(server.provider.typed_config.collector_hostname, "zipkin.istio-system");
  assert.equal(server.provider.typed_config.trace_id_128bit, true);
  assert.equal(client.provider.name, "envoy.tracers.opentelemetry");
  assert.deepEqual(client.provider.typed_config.grpc_service, { envoy_grpc: { cluster_name: "trellis-telemetry|otel", authority: "otel-collector.observability.svc.cluster.local" }, timeout: "2s", initial_metadata: [] });
  assert.equal(client.provider.typed_config.service_name, "reviews.default");
  assert.ok(client.custom_tags.some((t) => t.tag === "istio.canonical_service"), "Istio's standard tags stay");
  assert.ok(client.custom_tags.some((t) => t.tag === "env"));
  assert.deepEqual(out.clusters.map((c) => [c.name, c.type, "typed_extension_protocol_options" in c]), [
    ["trellis-telemetry|otel", "STRICT_DNS", true], ["trellis-telemetry|zipkin", "STRICT_DNS", false],
  ].sort());
  assert.equal((out.server.access_log as Array<{ name: string }>)[0].name, "envoy.access_loggers.file");
});

test("mesh config: telemetry providers parsed beside ext-authz ones; what Trellis cannot honour is refused by name", () => {
  const ok = parseMeshConfig(`extensionProviders:
- name: authz
  envoyExtAuthzHttp: { service: ext-authz.foo.svc.cluster.local, port: 8000 }
- name: otel
  opentelemetry: { service: otel.observability, port: 4318, http: { path: /v1/traces, timeout: 500ms, headers: [{ name: x-tenant, value: t1 }] } }
- name: zipkin
  zipkin: { service: zipkin.istio-system, port: 9411, enable64bitTraceId: true }
defaultProviders: { tracing: [otel], accessLogging: [envoy] }
`);
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.deepEqual(ok.value.extensionProviders!.map((p) => p.name), ["authz"]);
  assert.deepEqual(ok.value.telemetryProviders!.map((p) => `${p.name}:${p.kind}`), ["otel:opentelemetry", "zipkin:zipkin"]);
  const bad = parseMeshConfig(`extensionProviders:
- name: als
  envoyOtelAls: { service: otel, port: 4317 }
- name: otel
  opentelemetry: { service: otel, port: 4317, resourceDetectors: {} }
- name: OTEL
  zipkin: { service: z, port: 9411 }
defaultProviders: { tracing: [missing] }
`);
  assert.ok(!bad.ok);
  const text = bad.errors.join("\n");
  assert.match(text, /envoyOtelAls: OpenTelemetry access logs are not supported yet/);
  assert.match(text, /opentelemetry\.resourceDetectors is not supported/);
  assert.match(text, /name "OTEL" is used twice/);
  assert.match(text, /defaultProviders\.tracing: provider "missing" is not defined/);
});
