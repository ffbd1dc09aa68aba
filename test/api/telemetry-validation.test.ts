// Telemetry's webhook rules: Istio's own (one tracing entry, one provider, sampling a percentage, one kind of custom
// tag) and what Trellis does not act on (metric overrides, reporting intervals, log filters, request-id sampling,
// targetRefs), refused by name so that a Telemetry is never half applied.
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateResource } from "../../src/api/analyze.js";
import type { IstioResource } from "../../src/api/resource.js";

function tel(spec: Record<string, unknown>): IstioResource {
  return { apiVersion: "telemetry.istio.io/v1", kind: "Telemetry", metadata: { name: "t", namespace: "default" }, spec } as unknown as IstioResource;
}
const errors = (spec: Record<string, unknown>) => validateResource(tel(spec)).filter((f) => f.level === "Error").map((f) => f.path);

test("what Trellis honours passes", () => {
  assert.deepEqual(errors({
    selector: { matchLabels: { app: "reviews" } },
    tracing: [{ match: { mode: "SERVER" }, providers: [{ name: "zipkin" }], randomSamplingPercentage: 12.5, disableSpanReporting: false, customTags: { team: { literal: { value: "books" } }, stage: { environment: { name: "STAGE", defaultValue: "dev" } } } }],
    accessLogging: [{ providers: [{ name: "envoy" }], match: { mode: "CLIENT" }, disabled: true }],
    metrics: [{ providers: [{ name: "prometheus" }] }],
  }), []);
});

test("Istio's rules and Trellis' refusals name the field", () => {
  assert.deepEqual(errors({
    targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "gw" }],
    tracing: [{ providers: [{ name: "a" }, { name: "b" }], randomSamplingPercentage: 150, useRequestIdForTraceSampling: false, customTags: { x: { literal: { value: "1" }, header: { name: "h" } } } }, {}],
    accessLogging: [{ filter: { expression: "response.code >= 400" } }],
    metrics: [{ providers: [{ name: "stackdriver" }], overrides: [{ disabled: true }], reportingInterval: "10s" }],
  }).sort(), [
    "spec.accessLogging[0].filter", "spec.metrics[0].overrides", "spec.metrics[0].providers[0].name", "spec.metrics[0].reportingInterval",
    "spec.targetRefs", "spec.tracing", "spec.tracing[0].customTags.x", "spec.tracing[0].customTags.x.environment", "spec.tracing[0].providers", "spec.tracing[0].randomSamplingPercentage",
    "spec.tracing[0].useRequestIdForTraceSampling",
  ]);
});
