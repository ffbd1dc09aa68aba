// Sidecar injection called by the real API server: the leader registers istio-sidecar-injector (url clientConfig at
// loopback, the mesh roots as caBundle); pods are injected or not by namespace label, pod label and annotation
// (label wins), hostNetwork pods are skipped, a pod the injector cannot describe is refused naming the annotation,
// a Deployment's pods are injected through the ReplicaSet controller; and with the webhook down, failurePolicy Fail
// blocks pod creation in injected namespaces only.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { applyControlRbac } from "../fixtures/control-rbac.js";
import { ControlPlane } from "../../src/control/control-plane.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { defaultSettings } from "../../src/control/kube/inject/inject-settings.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;
const LIMIT_MS = 120_000;

type Container = { name: string; args?: string[]; env?: Array<{ name: string; value?: string }>; restartPolicy?: string; readinessProbe?: { httpGet?: { path: string; port: number } } };
type Pod = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { initContainers?: Container[]; containers: Container[]; volumes?: Array<{ name: string }> } };

const podBody = (name: string, o: { labels?: Record<string, string>; annotations?: Record<string, string>; hostNetwork?: boolean; probe?: boolean } = {}) => ({
  apiVersion: "v1", kind: "Pod",
  metadata: { name, labels: { app: "web", ...o.labels }, ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: {
    ...(o.hostNetwork ? { hostNetwork: true } : {}),
    containers: [{ name: "web", image: "httpbin", ports: [{ name: "http", containerPort: 8080 }], ...(o.probe ? { readinessProbe: { httpGet: { path: "/status/200", port: "http" } } } : {}) }],
  },
});
const names = (cs: Container[] | undefined) => (cs ?? []).map((c) => c.name);

describe("sidecar injection, called by the real API server", { skip }, () => {
  let cluster: KubeCluster;
  let cp: ControlPlane | undefined;
  let client: KubeClient;
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-inject-"));
  const settings = defaultSettings();

  const create = (ns: string, body: unknown) => cluster.request<Pod & { message?: string }>("POST", `/api/v1/namespaces/${ns}/pods`, body);
  async function created(ns: string, body: unknown): Promise<Pod> {
    const res = await create(ns, body);
    assert.equal(res.status, 201, res.text);
    return res.body;
  }

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    for (const [name, labels] of [["injected", { "istio-injection": "enabled" }], ["byrev", { "istio.io/rev": "default" }], ["plain", {}]] as const) {
      const res = await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
      assert.equal(res.status, 201, res.text);
    }
    // The control plane with exactly the permissions its manifest declares.
    client = new KubeClient(loadKubeconfig(await applyControlRbac(cluster)));
    cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, log: () => {},
      kubeIdentity: { client, webhook: { port: 0, url: "https://127.0.0.1:0/validate", inject: { settings: () => settings } }, election: { leaseDurationMs: 4000, renewIntervalMs: 1000, retryIntervalMs: 500 } } });
    await cp.start();
    // The API server picks up a new configuration shortly after it is written: wait until a dry run is injected.
    await waitFor("the API server to call the injector", LIMIT_MS, async () => {
      const res = await cluster.request<Pod>("POST", "/api/v1/namespaces/injected/pods?dryRun=All", podBody("probe"));
      return res.status === 201 && names(res.body.spec.containers).includes("istio-proxy") ? true : undefined;
    }, 500);
  });
  after(async () => {
    await cp?.stop();
    client?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is registered by the leader as istio-sidecar-injector, at /inject, with the mesh roots", async () => {
    const cfg = (await cluster.request<{ webhooks: Array<{ name: string; clientConfig: { url: string; caBundle: string }; failurePolicy: string }> }>("GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-sidecar-injector")).body;
    assert.deepEqual(cfg.webhooks.map((w) => w.name), ["rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io", "namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io"]);
    for (const w of cfg.webhooks) {
      assert.equal(w.clientConfig.url, `https://127.0.0.1:${cp!.ports.webhook}/inject`);
      assert.equal(Buffer.from(w.clientConfig.caBundle, "base64").toString(), readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8"));
      assert.equal(w.failurePolicy, "Fail");
    }
  });

  it("injects a pod in a namespace labelled istio-injection=enabled, as the template says, probes rewritten", async () => {
    const pod = await created("injected", podBody("web-1", { probe: true }));
    assert.deepEqual(names(pod.spec.initContainers), ["istio-init"]);
    assert.deepEqual(names(pod.spec.containers), ["web", "istio-proxy"]);
    assert.equal(pod.spec.initContainers![0].args![0], "istio-iptables");
    assert.deepEqual(pod.spec.volumes!.map((v) => v.name).slice(-4), ["istio-envoy", "istio-podinfo", "istio-token", "istiod-ca-cert"]);
    assert.equal(JSON.parse(pod.metadata.annotations!["sidecar.istio.io/status"]).revision, "default");
    assert.equal(pod.metadata.labels!["security.istio.io/tlsMode"], "istio");
    assert.deepEqual(pod.spec.containers[0].readinessProbe!.httpGet, { path: "/app-health/web/readyz", port: 15021, scheme: "HTTP" });
    const probers = pod.spec.containers[1].env!.find((e) => e.name === "ISTIO_KUBE_APP_PROBERS")!.value!;
    assert.deepEqual(JSON.parse(probers), { "/app-health/web/readyz": { httpGet: { path: "/status/200", port: 8080, scheme: "HTTP" }, timeoutSeconds: 1 } });
  });

  it("selects as Istio does: namespace label or istio.io/rev, pod label (which wins over the annotation), never hostNetwork", async () => {
    const table: Array<[string, string, Parameters<typeof podBody>[1], boolean]> = [
      ["by istio.io/rev on the namespace", "byrev", {}, true],
      ["plain namespace", "plain", {}, false],
      ["plain namespace, pod label inject=true", "plain", { labels: { "sidecar.istio.io/inject": "true" } }, true],
      ["plain namespace, pod annotation inject=true only", "plain", { annotations: { "sidecar.istio.io/inject": "true" } }, false],
      ["injected namespace, pod label inject=false", "injected", { labels: { "sidecar.istio.io/inject": "false" } }, false],
      ["injected namespace, pod annotation inject=false", "injected", { annotations: { "sidecar.istio.io/inject": "false" } }, false],
      ["injected namespace, label true beats annotation false", "injected", { labels: { "sidecar.istio.io/inject": "true" }, annotations: { "sidecar.istio.io/inject": "false" } }, true],
      ["injected namespace, hostNetwork", "injected", { hostNetwork: true }, false],
    ];
    let i = 0;
    for (const [why, ns, o, want] of table) {
      const pod = await created(ns, podBody(`sel-${i++}`, o));
      assert.equal(names(pod.spec.containers).includes("istio-proxy"), want, why);
      assert.equal(pod.metadata.annotations?.["sidecar.istio.io/status"] !== undefined, want, why);
    }
  });

  it("refuses a pod it cannot describe, naming the annotation or the port", async () => {
    const bad = await create("injected", podBody("bad-1", { annotations: { "traffic.sidecar.istio.io/excludeOutboundPorts": "mysql" } }));
    assert.equal(bad.status, 400);
    assert.match(bad.body.message!, /admission webhook ".*sidecar-injector.istio.io" denied the request: sidecar injection refused pod injected\/bad-1: annotation traffic.sidecar.istio.io\/excludeOutboundPorts: "mysql" is not a port number/);
    const port = await create("injected", { ...podBody("bad-2"), spec: { containers: [{ name: "web", image: "httpbin", ports: [{ containerPort: 15006 }] }] } });
    assert.equal(port.status, 400);
    assert.match(port.body.message!, /container web uses port 15006, which the sidecar needs/);
  });

  it("injects the pods a Deployment's ReplicaSet creates", async () => {
    const dep = await cluster.request("POST", "/apis/apps/v1/namespaces/injected/deployments", {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
      spec: { replicas: 1, selector: { matchLabels: { app: "dep" } }, template: podBody("ignored", { labels: { app: "dep" } }) },
    });
    assert.equal(dep.status, 201, dep.text);
    const pod = await waitFor("the Deployment's pod", LIMIT_MS, async () => {
      const list = await cluster.request<{ items: Pod[] }>("GET", "/api/v1/namespaces/injected/pods?labelSelector=app%3Ddep");
      return list.body.items[0];
    }, 500);
    assert.deepEqual(names(pod.spec.containers), ["web", "istio-proxy"]);
    assert.match(pod.metadata.name, /^web-/);
    // Telemetry's workload name is the Deployment's, as Istio's injector sets it.
    assert.equal(pod.spec.containers[1].env!.find((e) => e.name === "ISTIO_META_WORKLOAD_NAME")!.value, "web");
  });

  it("with the webhook down, failurePolicy Fail blocks pods in injected namespaces only", async () => {
    await cp!.stop();
    cp = undefined;
    const blocked = await create("injected", podBody("down-1"));
    assert.equal(blocked.status, 500, blocked.text);
    assert.match(blocked.body.message!, /failed calling webhook ".*sidecar-injector.istio.io"/);
    assert.equal((await create("plain", podBody("down-2"))).status, 201);
    // An opted-out pod never reaches the webhook (the object selector), so it is created.
    assert.equal((await create("injected", podBody("down-3", { labels: { "sidecar.istio.io/inject": "false" } }))).status, 201);
  });
});
