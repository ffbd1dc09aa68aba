// The validating webhook's decisions (table) and its HTTPS endpoint: a valid resource allowed, an invalid one refused
// with the REST API's field paths, an unparseable body refused by name, served with a certificate from the mesh CA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admit, startWebhookServer } from "./webhook-server.js";
import { CertificateAuthority } from "../ca/authority.js";

const vs = (spec: unknown) => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "reviews", namespace: "bookinfo" }, spec });

test("admit: allowed, refused with field paths, or refused as unparseable", () => {
  assert.deepEqual(admit({ uid: "1", operation: "CREATE", object: vs({ hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] }) }), { uid: "1", allowed: true });
  const bad = admit({ uid: "2", operation: "CREATE", object: vs({ hosts: ["reviews"], http: [{ timeout: "5 parsecs" }] }) });
  assert.equal(bad.allowed, false);
  assert.match(bad.status!.message, /^VirtualService bookinfo\/reviews is invalid: spec\.http\[0\]\.timeout: spec\.http\[0\]\.timeout: "5 parsecs" is not a duration/);
  assert.match(admit({ uid: "3", object: "not an object" }).status!.message, /request\.object is not an object: the webhook cannot parse it/);
  assert.match(admit({ uid: "4", object: { metadata: {} } }).status!.message, /no apiVersion and kind/);
  assert.match(admit({ uid: "5", object: { apiVersion: "networking.istio.io/v1", kind: "EnvoyFilter", metadata: { name: "x" } } }).status!.message, /EnvoyFilter networking.istio.io\/v1 is not a kind Trellis validates/);
  assert.deepEqual(admit({ uid: "6", operation: "DELETE" }), { uid: "6", allowed: true });
});

test("the HTTPS endpoint answers AdmissionReviews and names a body it cannot parse", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-webhook-"));
  const ca = await CertificateAuthority.open({ dir });
  const server = await startWebhookServer({ ca, port: 0, dnsNames: ["istiod.istio-system.svc"], log: () => {} });
  t.after(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  const post = (path: string, body: string) => new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method: "POST", ca: ca.rootsPem(), servername: "istiod.istio-system.svc", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.end(body);
  });
  const review = (object: unknown) => JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u1", operation: "CREATE", object } });
  const ok = await post("/validate", review(vs({ hosts: ["reviews"] })));
  assert.deepEqual(ok.body.response, { uid: "u1", allowed: true });
  const refused = await post("/validate", review(vs({ hosts: ["reviews"], http: [{ timeout: "5 parsecs" }] })));
  assert.equal((refused.body.response as { allowed: boolean }).allowed, false);
  const garbage = await post("/validate", "{not json");
  assert.equal(garbage.status, 400);
  assert.match(String(garbage.body.message), /cannot parse the body as an AdmissionReview/);
  const wrongShape = await post("/validate", JSON.stringify({ kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1beta1", request: {} }));
  assert.match(String(wrongShape.body.message), /not an admission.k8s.io\/v1 AdmissionReview/);
});
