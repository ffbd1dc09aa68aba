// The chart with the real helm against the real API server, the control plane's pods run by the kubelet stand-in:
// install (CRDs and every object; the control plane Ready, leading, and called by the API server as the validating
// webhook through Service istiod:443), upgrade with changed values (replicas, meshConfig: applied and the pods
// rolled), rollback (restored), uninstall (nothing of the release left; what stays is named: CRDs, as Helm keeps
// crds/, and what the control plane itself wrote at run time).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { startKubeletStandIn, type KubeletStandIn } from "../fixtures/kube/kubelet/kubelet-standin.js";
import { podNetworkUnavailable } from "../fixtures/kube/kubelet/pod-network.js";
import { waitForDeployment } from "../fixtures/kube/control-plane-pods.js";
import { CHART_DIR, helmBinary, helmRunner, type HelmRunner } from "../fixtures/helm.js";
import { until } from "../fixtures/until.js";

const bins = await kubeBinaries();
const helm = await helmBinary();
const skip = !bins.ok ? bins.reason : !helm.ok ? helm.reason : podNetworkUnavailable() ?? false;
const NS = "istio-system";
const LIMIT_MS = 240_000;
const INVALID_VS = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "bad", namespace: "default" }, spec: { hosts: ["reviews"], http: [{ timeout: "5 parsecs", route: [{ destination: { host: "reviews" } }] }] } };

type Obj = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown>; data?: Record<string, string>; webhooks?: Array<{ name: string; clientConfig: { caBundle?: string; service?: { name: string; port: number; path: string } } }> };

/** Objects of the release, by collection; helm labels every object app.kubernetes.io/instance=trellis. */
const RELEASE_COLLECTIONS = [
  `/api/v1/namespaces/${NS}/configmaps`, `/api/v1/namespaces/${NS}/services`, `/api/v1/namespaces/${NS}/serviceaccounts`,
  `/apis/apps/v1/namespaces/${NS}/deployments`, `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets`,
  `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`,
  "/apis/rbac.authorization.k8s.io/v1/clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
  "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
];

describe("the Helm chart, installed with the real helm", { skip }, () => {
  let cluster: KubeCluster;
  let kubelet: KubeletStandIn;
  let h: HelmRunner;
  const get = async <T = Obj>(path: string) => {
    const res = await cluster.request<T>("GET", path);
    return res.status === 200 ? res.body : undefined;
  };
  const helmOk = async (args: string[]) => {
    const r = await h.run(args);
    assert.equal(r.code, 0, `helm ${args.join(" ")}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const releaseObjects = async () => {
    const names: string[] = [];
    for (const c of RELEASE_COLLECTIONS) {
      const list = await get<{ items: Obj[] }>(`${c}?labelSelector=${encodeURIComponent("app.kubernetes.io/instance=trellis")}`);
      for (const o of list?.items ?? []) names.push(`${c.split("/").pop()}/${o.metadata.name}`);
    }
    return names.sort();
  };

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const standIn = await startKubeletStandIn(cluster);
    if (!standIn.ok) throw new Error(standIn.reason);
    kubelet = standIn.kubelet;
    h = helmRunner(helm.ok ? helm.path : "", cluster.adminKubeconfig);
  });
  after(async () => {
    await kubelet?.stop();
    await cluster?.stop();
    h?.close();
  });

  it("install: CRDs and every object, the control plane Ready in its pod", async () => {
    await helmOk(["install", "trellis", CHART_DIR, "--namespace", NS, "--create-namespace"]);
    assert.ok(await get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io"), "Istio's CRDs from crds/");
    assert.deepEqual(await releaseObjects(), [
      "clusterrolebindings/trellis-control", "clusterroles/trellis-control", "configmaps/istio", "deployments/istiod",
      "mutatingwebhookconfigurations/istio-sidecar-injector", "rolebindings/trellis-control", "roles/trellis-control",
      "serviceaccounts/trellis-control", "services/istiod", "validatingwebhookconfigurations/trellis-validator-istio-system",
    ]);
    const svc = await get<{ spec: { ports: Array<{ port: number; targetPort: number }> } }>(`/api/v1/namespaces/${NS}/services/istiod`);
    assert.deepEqual(svc!.spec.ports.map((p) => `${p.port}->${p.targetPort}`), ["15010->15010", "15012->15012", "443->15017", "15014->15014"]);
    const mwc = await get("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-sidecar-injector");
    assert.deepEqual(mwc!.webhooks!.map((w) => w.name), ["rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io", "namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io"]);
    assert.deepEqual(mwc!.webhooks![0].clientConfig.service, { name: "istiod", namespace: NS, port: 443, path: "/inject" });
    await waitForDeployment(cluster, kubelet, NS, "istiod", LIMIT_MS);
  });

  it("the control plane in its pod leads: root cert published, and the API server calls its webhook via Service istiod:443", async () => {
    await until("istio-ca-root-cert in default", async () => !!(await get("/api/v1/namespaces/default/configmaps/istio-ca-root-cert")), LIMIT_MS);
    await until("the validating webhook's caBundle", async () => !!(await get(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/trellis-validator-${NS}`))?.webhooks?.[0].clientConfig.caBundle, LIMIT_MS);
    let last = "";
    await until("the API server to refuse an invalid VirtualService through the webhook", async () => {
      const res = await cluster.request("POST", "/apis/networking.istio.io/v1/namespaces/default/virtualservices?dryRun=All", INVALID_VS);
      last = res.text;
      return res.status >= 400 && /denied the request/.test(res.text);
    }, LIMIT_MS).catch((err: Error) => { throw new Error(`${err.message}; last answer: ${last}`); });
    assert.match(last, /timeout/);
  });

  it("upgrade with replicas=2 and a meshConfig change: applied, and the pods rolled to read it", async () => {
    const before = (await get(`/apis/apps/v1/namespaces/${NS}/deployments/istiod`))!;
    await helmOk(["upgrade", "trellis", CHART_DIR, "--namespace", NS, "--set", "replicas=2", "--set", "meshConfig.accessLogFile=/dev/stdout"]);
    const mesh = JSON.parse((await get(`/api/v1/namespaces/${NS}/configmaps/istio`))!.data!.mesh) as Record<string, unknown>;
    assert.equal(mesh.accessLogFile, "/dev/stdout");
    const after = (await get<{ spec: { replicas: number; template: { metadata: { annotations: Record<string, string> } } } }>(`/apis/apps/v1/namespaces/${NS}/deployments/istiod`))!;
    assert.equal(after.spec.replicas, 2);
    const checksum = (d: unknown) => (d as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations["checksum/config"];
    assert.notEqual(checksum(after), checksum(before), "a changed mesh config changes the pod template");
    assert.ok(await get(`/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/istiod`), "with 2 replicas the PDB is made");
    await waitForDeployment(cluster, kubelet, NS, "istiod", LIMIT_MS);
    assert.match(await helmOk(["history", "trellis", "--namespace", NS]), /2\s+.*deployed/);
  });

  it("rollback to revision 1 restores the values", async () => {
    await helmOk(["rollback", "trellis", "1", "--namespace", NS]);
    const mesh = JSON.parse((await get(`/api/v1/namespaces/${NS}/configmaps/istio`))!.data!.mesh) as Record<string, unknown>;
    assert.equal(mesh.accessLogFile, undefined);
    assert.equal((await get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/istiod`))!.spec.replicas, 1);
    assert.equal(await get(`/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/istiod`), undefined, "the PDB goes with the second replica");
    await waitForDeployment(cluster, kubelet, NS, "istiod", LIMIT_MS);
  });

  it("uninstall leaves nothing of the release; CRDs stay (Helm never deletes crds/), and what the control plane wrote is named", async () => {
    await helmOk(["uninstall", "trellis", "--namespace", NS, "--wait", "--timeout", "3m"]);
    assert.deepEqual(await releaseObjects(), []);
    await until("the control plane's pods to be gone", async () => ((await get<{ items: unknown[] }>(`/api/v1/namespaces/${NS}/pods`))?.items.length ?? 0) === 0, LIMIT_MS);
    const secrets = await get<{ items: Obj[] }>(`/api/v1/namespaces/${NS}/secrets?labelSelector=`);
    assert.equal((await get<{ items: unknown[] }>(`/api/v1/namespaces/${NS}/secrets?fieldSelector=type%3Dhelm.sh%2Frelease.v1`))?.items.length, 0, "Helm's release records are gone");
    assert.ok(await get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io"), "CRDs stay, as Helm keeps crds/");
    // Written by the running control plane, not by Helm (as istiod's are): the shared root and the namespaces' root
    // cert ConfigMaps, and the leader's Lease. They stay until the namespace goes (istio-system) or are deleted by hand.
    const names = (secrets?.items ?? []).map((s) => s.metadata.name);
    assert.ok(names.includes("istio-ca-secret"), `the shared root stays: ${names.join(", ")}`);
  });
});
