// The validating webhook called by the real API server: the leader registers it (url clientConfig at loopback, the
// mesh roots as caBundle), an invalid VirtualService written to the API server is refused with the field path and the
// same words the REST API (trellis apply) uses, a valid one is stored; after a root rotation the caBundle and every
// namespace's istio-ca-root-cert ConfigMap carry the new bundle and the API server still reaches the webhook.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { applyControlRbac } from "../fixtures/control-rbac.js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { DEFAULT_WEBHOOK_CONFIG_NAME } from "../../src/control/kube/webhook-config.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;
const LIMIT_MS = 120_000;
const VS_PATH = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";
const vs = (name: string, spec: unknown) => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, namespace: "default" }, spec });
const INVALID = vs("reviews-bad", { hosts: ["reviews"], http: [{ timeout: "5 parsecs", route: [{ destination: { host: "reviews" } }] }] });

describe("the validating webhook, called by the real API server", { skip }, () => {
  let cluster: KubeCluster;
  let cp: ControlPlane;
  let client: KubeClient;
  let admin: KubeClient;
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-webhook-"));

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    admin = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
    await installCrds(admin, loadCrds());
    client = new KubeClient(loadKubeconfig(await applyControlRbac(cluster)));
    cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, log: () => {},
      kubeIdentity: { client, webhook: { port: 0, url: "https://127.0.0.1:0/validate" }, election: { leaseDurationMs: 4000, renewIntervalMs: 1000, retryIntervalMs: 500 } } });
    await cp.start();
    // The API server picks up a new webhook configuration shortly after it is written: wait until it refuses.
    await waitFor("the API server to call the webhook", LIMIT_MS, async () => {
      const res = await cluster.request("POST", `${VS_PATH}?dryRun=All`, INVALID);
      return res.status >= 400 && /denied the request/.test(res.text) ? true : undefined;
    }, 500);
  });
  after(async () => {
    await cp?.stop();
    client?.close();
    admin?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is registered by the leader with the mesh roots as caBundle", async () => {
    const hook = await admin.get<{ webhooks: Array<{ clientConfig: { url: string; caBundle: string }; rules: unknown[] }> }>(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${DEFAULT_WEBHOOK_CONFIG_NAME}`);
    assert.equal(hook.webhooks[0].clientConfig.url, `https://127.0.0.1:${cp.ports.webhook}/validate`);
    assert.equal(Buffer.from(hook.webhooks[0].clientConfig.caBundle, "base64").toString(), roots());
  });

  it("refuses an invalid VirtualService with the field path, as the REST API does", async () => {
    const refused = await cluster.request<{ message: string; code: number }>("POST", VS_PATH, INVALID);
    assert.equal(refused.status, 400);
    const rest = await fetch(`http://127.0.0.1:${cp.ports.api}${VS_PATH}`, { method: "POST", body: JSON.stringify(INVALID), headers: { "content-type": "application/json" } });
    const restMessage = ((await rest.json()) as { message: string }).message;
    assert.match(restMessage, /^VirtualService default\/reviews-bad is invalid: spec\.http\[0\]\.timeout: /);
    assert.equal(refused.body.message, `admission webhook "validation.istio.io" denied the request: ${restMessage}`);
    assert.equal((await cluster.request("GET", `${VS_PATH}/reviews-bad`)).status, 404);
  });

  it("lets a valid VirtualService through", async () => {
    const created = await cluster.request("POST", VS_PATH, vs("reviews", { hosts: ["reviews"], http: [{ timeout: "5s", route: [{ destination: { host: "reviews" } }] }] }));
    assert.equal(created.status, 201, created.text);
  });

  it("after a root rotation: the caBundle and the root-cert ConfigMaps carry both roots, and the webhook still answers", async () => {
    await waitFor("the root-cert ConfigMap in default", LIMIT_MS, async () => (await configMapPem("default")) === (roots()) ? true : undefined, 250);
    const rotated = await fetch(`http://127.0.0.1:${cp.ports.api}/api/v1/ca/root-rotation`, { method: "POST", body: JSON.stringify({ action: "start" }), headers: { "content-type": "application/json" } });
    assert.equal(rotated.status, 200, await rotated.text());
    const bundle = roots();
    assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 2);
    await waitFor("the ConfigMap to carry both roots", LIMIT_MS, async () => (await configMapPem("default")) === bundle ? true : undefined, 250);
    // The leader writes the ConfigMaps and the caBundle one after the other: wait for each.
    await waitFor("the webhook's caBundle to carry both roots", LIMIT_MS, async () => {
      const hook = await admin.get<{ webhooks: Array<{ clientConfig: { caBundle: string } }> }>(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${DEFAULT_WEBHOOK_CONFIG_NAME}`);
      return Buffer.from(hook.webhooks[0].clientConfig.caBundle, "base64").toString() === bundle ? true : undefined;
    }, 250);
    // The webhook now serves a certificate from the new root, which the API server trusts through the new bundle.
    await waitFor("the API server to reach the webhook after the rotation", LIMIT_MS, async () => {
      const res = await cluster.request("POST", `${VS_PATH}?dryRun=All`, INVALID);
      return /denied the request/.test(res.text) ? true : undefined;
    }, 500);
  });

  /** The CA's bundle as it keeps it on disk (rewritten by a rotation). */
  const roots = () => readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");

  async function configMapPem(ns: string): Promise<string | undefined> {
    const res = await cluster.request<{ data?: Record<string, string> }>("GET", `/api/v1/namespaces/${ns}/configmaps/istio-ca-root-cert`);
    return res.status === 200 ? res.body.data?.["root-cert.pem"] : undefined;
  }
});

