// The control plane with exactly the permissions manifests/control-plane-rbac.yaml declares: Kubernetes mode (store,
// registry), TokenReview identity, the webhook registration, the leader's ConfigMaps and resources' status all work
// with nothing forbidden; with one rule taken out, what fails names the verb and the resource to grant.
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
import { KubeMode } from "../../src/control/kube/kube-mode.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { CaClient } from "../../src/identity/ca-client.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;
const LIMIT_MS = 120_000;
const ELECTION = { leaseDurationMs: 4000, renewIntervalMs: 1000, retryIntervalMs: 250 };

describe("the control plane under the manifests' RBAC", { skip }, () => {
  let cluster: KubeCluster;
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-rbac-"));
  const running: Array<{ cp: ControlPlane; kube?: KubeMode; client: KubeClient }> = [];

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const admin = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
    await installCrds(admin, loadCrds());
    admin.close();
  });
  const stopAll = async () => {
    for (const r of running.splice(0)) {
      await r.cp.stop();
      r.client.close();
    }
  };
  after(async () => {
    await stopAll();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(name: string, kubeconfig: string, log: string[]): Promise<ControlPlane> {
    const connection = loadKubeconfig(kubeconfig);
    const kube = new KubeMode(connection, { log: (l) => log.push(l), syncTimeoutMs: LIMIT_MS });
    const client = new KubeClient(connection);
    const cp = new ControlPlane({ stateDir: join(dir, name), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, log: (l) => log.push(l), kube,
      kubeIdentity: { client, webhook: { port: 0, url: "https://127.0.0.1:0/validate" }, election: { ...ELECTION, identity: name } } });
    running.push({ cp, kube, client });
    await cp.start();
    return cp;
  }

  it("works with exactly those rules: synced, leading, ConfigMaps and webhook written, nothing forbidden", async () => {
    const log: string[] = [];
    await start("full", await applyControlRbac(cluster), log);
    await waitFor("the root-cert ConfigMap in default", LIMIT_MS, async () => ((await cluster.request("GET", "/api/v1/namespaces/default/configmaps/istio-ca-root-cert")).status === 200 ? true : undefined));
    await waitFor("the webhook configuration", LIMIT_MS, async () => ((await cluster.request("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/trellis-validator-istio-system")).status === 200 ? true : undefined));
    assert.equal(running[0].kube!.synced, true, log.join("\n"));
    // Status, the leader's too: the analysis of each resource, cleared when the problem is fixed.
    const vsPath = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";
    const created = await cluster.request("POST", vsPath, { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "reviews" }, spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews", subset: "v9" } }] }] } });
    assert.equal(created.status, 201, created.text);
    type Status = { status?: { observedGeneration?: number; validationMessages?: Array<{ type: { code: string }; level: string; description: string }> } };
    const status = async () => (await cluster.request<Status>("GET", `${vsPath}/reviews`)).body.status;
    const messages = await waitFor("the analysis in the VirtualService's status", LIMIT_MS, async () => (await status())?.validationMessages, 250);
    assert.deepEqual(messages.map((m) => [m.type.code, m.level]), [["TRL1002", "ERROR"]]);
    assert.match(messages[0].description, /^spec\.http\[0\]\.route\[0\]\.destination\.subset: subset "v9"/);
    assert.equal((await status())?.observedGeneration, 1);
    const dr = await cluster.request("POST", "/apis/networking.istio.io/v1/namespaces/default/destinationrules", { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "reviews" }, spec: { host: "reviews", subsets: [{ name: "v9", labels: { version: "v9" } }] } });
    assert.equal(dr.status, 201, dr.text);
    await waitFor("the status to clear once the subset exists", LIMIT_MS, async () => ((await status())?.validationMessages === undefined ? true : undefined), 250);
    assert.deepEqual(log.filter((l) => /forbidden/i.test(l)), []);
    await stopAll();
  });

  it("without the TokenReview rule, a CSR is refused with the verb and resource to grant", async () => {
    const log: string[] = [];
    const cp = await start("no-tokenreview", await applyControlRbac(cluster, (r) => r.resources?.includes("tokenreviews") ?? false), log);
    const sa = await cluster.request("POST", "/api/v1/namespaces/default/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reviews" } });
    assert.ok(sa.status === 201 || sa.status === 409, sa.text);
    const token = await cluster.serviceAccountToken("default", "reviews", ["istio-ca"]);
    const ca = new CaClient({ address: `127.0.0.1:${cp.ports.ca}`, caRootsPem: readFileSync(join(dir, "no-tokenreview", "ca", "root-cert.pem"), "utf8"), token: () => token, identity: { trustDomain: "cluster.local", namespace: "default", serviceAccount: "reviews" } });
    try {
      await assert.rejects(ca.request(), /create tokenreviews at the cluster scope: Forbidden: .*must grant "create" on "tokenreviews"/);
    } finally {
      ca.close();
      await stopAll();
    }
  });

  it("without the ConfigMap rule, the leader's failure names the verb and resource", async () => {
    const log: string[] = [];
    await start("no-configmaps", await applyControlRbac(cluster, (r) => r.resources?.includes("configmaps") ?? false), log);
    await waitFor("the publisher to report what is missing", LIMIT_MS, async () => (log.some((l) => /list configmaps at the cluster scope: Forbidden.*must grant "list" on "configmaps"/.test(l)) ? true : undefined));
  });
});
