// The ValidatingWebhookConfiguration as written: every Istio kind Trellis serves, create and update only, fail
// closed, the url or Service clientConfig with the mesh roots as caBundle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KINDS } from "../../api/kinds.js";
import { webhookConfiguration } from "./webhook-config.js";

type Hook = { clientConfig: Record<string, unknown>; rules: Array<{ apiGroups: string[]; resources: string[]; operations: string[] }>; failurePolicy: string; sideEffects: string; admissionReviewVersions: string[] };

test("covers every served kind, create and update, failing closed", () => {
  const hook = (webhookConfiguration("v", { url: "https://127.0.0.1:1/validate" }, "PEM").webhooks as Hook[])[0];
  const covered = hook.rules.flatMap((r) => r.resources.map((res) => `${r.apiGroups[0]}/${res}`)).sort();
  assert.deepEqual(covered, KINDS.map((k) => `${k.group}/${k.plural}`).sort());
  for (const r of hook.rules) assert.deepEqual(r.operations, ["CREATE", "UPDATE"]);
  assert.equal(hook.failurePolicy, "Fail");
  assert.equal(hook.sideEffects, "None");
  assert.deepEqual(hook.admissionReviewVersions, ["v1"]);
});

test("clientConfig: a url as given, or the Service with the webhook's path; caBundle is the roots in base64", () => {
  const byUrl = (webhookConfiguration("v", { url: "https://127.0.0.1:1/validate" }, "PEM").webhooks as Hook[])[0].clientConfig;
  assert.deepEqual(byUrl, { url: "https://127.0.0.1:1/validate", caBundle: Buffer.from("PEM").toString("base64") });
  const bySvc = (webhookConfiguration("v", { service: { namespace: "istio-system", name: "istiod", port: 443 } }, "PEM").webhooks as Hook[])[0].clientConfig;
  assert.deepEqual(bySvc, { service: { namespace: "istio-system", name: "istiod", port: 443, path: "/validate" }, caBundle: Buffer.from("PEM").toString("base64") });
});
