// Kubernetes identity against the real API server: the control plane runs with exactly the RBAC of
// manifests/control-plane-rbac.yaml; a pod's projected token (audience istio-ca) gets a certificate for its service
// account's SPIFFE id and opens an xDS stream as that workload; a token of another service account or another
// audience is refused, by the CA and by xDS.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { applyControlRbac } from "../fixtures/control-rbac.js";
import { probeAds } from "../fixtures/ads-probe.js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { CaClient } from "../../src/identity/ca-client.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;

describe("identity in Kubernetes mode: service-account tokens checked by TokenReview", { skip }, () => {
  let cluster: KubeCluster;
  let cp: ControlPlane;
  let client: KubeClient;
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-identity-"));
  /** A token for `sa`, bound to `pod` when given, for `audiences`. */
  let token: (sa: string, audiences: string[], pod?: string) => Promise<string>;

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const kubeconfig = await applyControlRbac(cluster);
    client = new KubeClient(loadKubeconfig(kubeconfig));
    const must = async (path: string, body: unknown) => {
      const res = await cluster.request<{ metadata: { uid: string } }>("POST", path, body);
      if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${res.text}`);
      return res.body;
    };
    await must("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "bookinfo" } });
    for (const sa of ["reviews", "ratings"]) await must("/api/v1/namespaces/bookinfo/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa } });
    const pod = await must("/api/v1/namespaces/bookinfo/pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "reviews-v1", labels: { app: "reviews", version: "v1" } }, spec: { serviceAccountName: "reviews", containers: [{ name: "app", image: "reviews" }] } });
    token = async (sa, audiences, podName) => {
      const res = await cluster.request<{ status: { token: string } }>("POST", `/api/v1/namespaces/bookinfo/serviceaccounts/${sa}/token`, {
        apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
        spec: { audiences, expirationSeconds: 3600, ...(podName ? { boundObjectRef: { apiVersion: "v1", kind: "Pod", name: podName, uid: pod.metadata.uid } } : {}) },
      });
      if (res.status !== 201) throw new Error(`TokenRequest ${sa}: ${res.status} ${res.text}`);
      return res.body.status.token;
    };
    cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, log: () => {}, kubeIdentity: { client, election: { leaseDurationMs: 4000, renewIntervalMs: 1000, retryIntervalMs: 500 } } });
    await cp.start();
  });
  after(async () => {
    await cp?.stop();
    client?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const csr = (tok: string) => {
    const ca = new CaClient({ address: `127.0.0.1:${cp.ports.ca}`, caRootsPem: readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8"), token: () => tok, identity: { trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "reviews" } });
    return ca.request().finally(() => ca.close());
  };
  const reviewsNode = { NAMESPACE: "bookinfo", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v1" } };

  it("replicas share one self-signed root through the istio-ca-secret Secret", async () => {
    const secret = await cluster.request<{ data: Record<string, string> }>("GET", "/api/v1/namespaces/istio-system/secrets/istio-ca-secret");
    assert.equal(secret.status, 200);
    const root = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
    assert.equal(Buffer.from(secret.body.data["root-cert.pem"], "base64").toString(), root);
    const second = new ControlPlane({ stateDir: join(dir, "second"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, log: () => {}, kubeIdentity: { client, election: { leaseDurationMs: 4000, renewIntervalMs: 1000, retryIntervalMs: 500 } } });
    try {
      await second.start();
      assert.equal(readFileSync(join(dir, "second", "ca", "root-cert.pem"), "utf8"), root);
      assert.equal(statSync(join(dir, "second", "ca", "ca-key.pem")).mode & 0o777, 0o600);
    } finally {
      await second.stop();
    }
  });

  it("a pod's istio-ca token gets a certificate for its service account's SPIFFE id", async () => {
    const cert = await csr(await token("reviews", ["istio-ca"], "reviews-v1"));
    assert.match(new X509Certificate(cert.certChainPem.split(/(?<=-----END CERTIFICATE-----\n?)/)[0]).subjectAltName ?? "", /URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews/);
  });

  it("refuses a CSR whose token is for another audience or another service account", async () => {
    await assert.rejects(csr(await token("reviews", [])), /does not accept the token for audience istio-ca/);
    await assert.rejects(csr(await token("ratings", ["istio-ca"])), /spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/ratings/);
  });

  it("an xDS stream is the pod's workload only with that pod's token, and only within the pod's labels", async () => {
    const target = `127.0.0.1:${cp.ports.ca}`;
    const rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
    const ok = await probeAds(target, "reviews-v1.bookinfo", reviewsNode, { token: await token("reviews", ["istio-ca"], "reviews-v1"), rootsPem, keep: true });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.deepEqual(cp.ads.proxies().map((p) => [p.node.id, p.identity]), [["reviews-v1.bookinfo", "spiffe://cluster.local/ns/bookinfo/sa/reviews"]]);
    if (ok.ok) ok.close();
    const otherSa = await probeAds(target, "reviews-v1.bookinfo", reviewsNode, { token: await token("ratings", ["istio-ca"]), rootsPem });
    assert.equal(otherSa.ok, false);
    assert.match((otherSa as { details: string }).details, /claims namespace bookinfo and service account reviews but its service-account token proves bookinfo\/ratings/);
    const otherAudience = await probeAds(target, "reviews-v1.bookinfo", reviewsNode, { token: await token("reviews", []), rootsPem });
    assert.match((otherAudience as { details: string }).details, /does not accept the token for audience istio-ca/);
    const beyondPod = await probeAds(target, "reviews-v1.bookinfo", { ...reviewsNode, LABELS: { app: "reviews", version: "v2" } }, { token: await token("reviews", ["istio-ca"], "reviews-v1"), rootsPem });
    assert.match((beyondPod as { details: string }).details, /claims label version=v2 but its pod reviews-v1's service-account token allows version=v1/);
  });
});
