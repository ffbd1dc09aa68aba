// The injector's MutatingWebhookConfiguration as Istio's chart writes it: names, Service and path, Istio's four
// selectors for the default revision and two for a named one, failing closed, pods on CREATE only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { injectorWebhookConfiguration } from "./injector-webhook-config.js";

type Hook = { name: string; clientConfig: Record<string, unknown>; rules: unknown[]; namespaceSelector: unknown; objectSelector: unknown; failurePolicy: string; reinvocationPolicy: string; sideEffects: string };

test("default revision: istio-sidecar-injector, four webhooks, the istiod Service on 443 /inject", () => {
  const cfg = injectorWebhookConfiguration({ revision: "", namespace: "istio-system", caBundlePem: "PEM" });
  assert.equal(cfg.kind, "MutatingWebhookConfiguration");
  assert.equal(cfg.metadata.name, "istio-sidecar-injector");
  const hooks = cfg.webhooks as Hook[];
  assert.deepEqual(hooks.map((h) => h.name), ["rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io", "namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io"]);
  for (const h of hooks) {
    assert.deepEqual(h.clientConfig, { service: { namespace: "istio-system", name: "istiod", port: 443, path: "/inject" }, caBundle: Buffer.from("PEM").toString("base64") });
    assert.deepEqual(h.rules, [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "*" }]);
    assert.equal(h.failurePolicy, "Fail");
    assert.equal(h.reinvocationPolicy, "Never");
    assert.equal(h.sideEffects, "None");
  }
  assert.deepEqual(hooks[2].namespaceSelector, { matchExpressions: [{ key: "istio-injection", operator: "In", values: ["enabled"] }] });
  assert.deepEqual(hooks[2].objectSelector, { matchExpressions: [{ key: "sidecar.istio.io/inject", operator: "NotIn", values: ["false"] }] });
  assert.deepEqual(hooks[3].objectSelector, { matchExpressions: [{ key: "sidecar.istio.io/inject", operator: "In", values: ["true"] }, { key: "istio.io/rev", operator: "DoesNotExist" }] });
  assert.deepEqual(hooks[0].namespaceSelector, { matchExpressions: [{ key: "istio.io/rev", operator: "In", values: ["default"] }, { key: "istio-injection", operator: "DoesNotExist" }] });
});

test("a revision: istio-sidecar-injector-REV, its own Service, only istio.io/rev=REV selects", () => {
  const cfg = injectorWebhookConfiguration({ revision: "canary", namespace: "istio-system", caBundlePem: "PEM", client: { url: "https://127.0.0.1:9/inject" } });
  assert.equal(cfg.metadata.name, "istio-sidecar-injector-canary");
  assert.equal(cfg.metadata.labels!["istio.io/rev"], "canary");
  const hooks = cfg.webhooks as Hook[];
  assert.deepEqual(hooks.map((h) => h.name), ["rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io"]);
  assert.deepEqual(hooks[1].objectSelector, { matchExpressions: [{ key: "sidecar.istio.io/inject", operator: "NotIn", values: ["false"] }, { key: "istio.io/rev", operator: "In", values: ["canary"] }] });
  assert.equal((hooks[0].clientConfig as { url: string }).url, "https://127.0.0.1:9/inject");
  const svc = injectorWebhookConfiguration({ revision: "canary", namespace: "istio-system", caBundlePem: "PEM" });
  assert.equal(((svc.webhooks as Hook[])[0].clientConfig as { service: { name: string } }).service.name, "istiod-canary");
});
