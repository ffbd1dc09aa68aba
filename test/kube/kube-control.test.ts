// trellis control in Kubernetes mode against the real kube-apiserver, etcd and kube-controller-manager: Istio's CRDs
// missing then installed, a Service with pods becoming EDS endpoints with pod IPs (EndpointSlices made by the real
// endpointslice controller), discoverySelectors, a VirtualService written through the API server or through
// trellis's REST API reaching a connected proxy, the API server restarted and etcd compacted mid-watch with nothing
// stale afterwards, and RBAC refusals naming the verb and resource. Skipped with the reason when the binaries are
// absent (scripts/install-kube.sh builds them).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { AdsRecorder } from "../fixtures/ads-recorder.js";
import { waitFor } from "../fixtures/kube-api-double.js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { KubeMode } from "../../src/control/kube/kube-mode.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";

const started = await startKubeCluster();
const skip = started.ok ? false : started.reason;
const cluster = (started.ok ? started.cluster : undefined) as KubeCluster;
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await cluster?.stop();
});

const LIMIT = 60_000;
const lines: string[] = [];
let cp: ControlPlane;
let kube: KubeMode;
let rec: AdsRecorder;
const WEB = "outbound|80||web.shop.svc.cluster.local";

async function ok(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
  const res = await cluster.request(method, path, body, contentType);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
}

async function runningPod(ns: string, name: string, ip: string, labels: Record<string, string>): Promise<void> {
  await ok("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name, labels }, spec: { nodeName: "node-a", containers: [{ name: "app", image: "trellis/httpbin", ports: [{ name: "web", containerPort: 8080 }] }] } });
  // What a kubelet reports once the pod runs: its IP and readiness (the endpointslice controller reads these).
  await ok("PATCH", `/api/v1/namespaces/${ns}/pods/${name}/status`, { status: { phase: "Running", hostIP: "127.0.0.1", podIP: ip, podIPs: [{ ip }], conditions: [{ type: "PodScheduled", status: "True" }, { type: "Ready", status: "True" }] } }, "application/merge-patch+json");
}

async function namespace(name: string, labels: Record<string, string>): Promise<void> {
  await ok("POST", "/api/v1/namespaces", { metadata: { name, labels } });
  // Pods need the namespace's default ServiceAccount, which the serviceaccount controller creates.
  const deadline = Date.now() + LIMIT;
  while ((await cluster.request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`no default ServiceAccount in ${name}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("Istio CRDs missing at start: the control plane says how to install them, and picks them up once installed", { skip }, async () => {
  await namespace("shop", { "istio-discovery": "enabled" });
  await namespace("other", {});
  await ok("POST", "/api/v1/nodes", { metadata: { name: "node-a", labels: { "topology.kubernetes.io/region": "eu", "topology.kubernetes.io/zone": "eu-1" } } });
  await ok("POST", "/api/v1/namespaces/shop/services", { metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "web" }] } });
  await ok("POST", "/api/v1/namespaces/other/services", { metadata: { name: "hidden" }, spec: { selector: { app: "hidden" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } });
  await runningPod("shop", "web-1", "10.244.0.11", { app: "web" });
  await runningPod("shop", "web-2", "10.244.0.12", { app: "web" });
  await runningPod("shop", "client-1", "10.244.0.20", { app: "client" });
  await runningPod("other", "hidden-1", "10.244.0.30", { app: "hidden" });

  kube = new KubeMode(loadKubeconfig(cluster.adminKubeconfig), { discoverySelectors: [{ matchLabels: { "istio-discovery": "enabled" } }], log: (l) => lines.push(l), syncTimeoutMs: 3000, initialBackoffMs: 200, maxBackoffMs: 2000 });
  cp = new ControlPlane({ stateDir: mkdtempSync(join(tmpdir(), "trellis-kube-cp-")), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, kube, log: (l) => lines.push(l) });
  cleanups.push(() => cp.stop());
  await cp.start();
  assert.ok(lines.some((l) => /Istio's CRD virtualservices\.networking\.istio\.io is not installed .*trellis install-crds/.test(l)), lines.join("\n"));
  await installCrds(kube.client, loadCrds());
  await waitFor("the Istio kinds to be listed", () => kube.synced, LIMIT);
});

test("a Service with pods becomes EDS endpoints with pod IPs and target ports; an unselected namespace stays unseen", { skip }, async () => {
  rec = new AdsRecorder(`127.0.0.1:${cp.ports.xds}`, { id: "sidecar~10.244.0.20~client-1.shop~shop.svc.cluster.local", metadata: { INTERCEPTION_MODE: "REDIRECT" } });
  cleanups.push(() => rec.close());
  await waitFor("web's two endpoints", () => rec.endpoints(WEB).length === 2, LIMIT);
  assert.deepEqual(rec.endpoints(WEB, true), ["10.244.0.11:8080 HEALTHY", "10.244.0.12:8080 HEALTHY"]);
  assert.ok(!rec.clusterNames().some((c) => c.includes("hidden.other")), `clusters: ${rec.clusterNames().join(", ")}`);
  const proxies = await (await fetch(`http://127.0.0.1:${cp.ports.api}/debug/proxies`)).json() as Array<{ workload?: { name: string; locality: string; serviceAccount: string } }>;
  assert.deepEqual(proxies.map((p) => [p.workload?.name, p.workload?.locality, p.workload?.serviceAccount]), [["client-1", "eu/eu-1/", "default"]]);
});

test("discoverySelectors follow namespace labels: labelled in, a namespace's Services appear; labelled out, they go", { skip }, async () => {
  const HIDDEN = "outbound|80||hidden.other.svc.cluster.local";
  await ok("PATCH", "/api/v1/namespaces/other", { metadata: { labels: { "istio-discovery": "enabled" } } }, "application/merge-patch+json");
  await waitFor("hidden.other at the proxy", () => rec.endpoints(HIDDEN).join() === "10.244.0.30:8080", LIMIT);
  await ok("PATCH", "/api/v1/namespaces/other", { metadata: { labels: { "istio-discovery": null } } }, "application/merge-patch+json");
  await waitFor("hidden.other gone", () => !rec.clusterNames().includes(HIDDEN), LIMIT);
});

test("a VirtualService written to the API server, or through trellis's REST API, reaches the proxy", { skip }, async () => {
  const vs = (name: string, marker: string) => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, namespace: "shop" }, spec: { hosts: ["web"], http: [{ match: [{ headers: { "x-marker": { exact: marker } } }], route: [{ destination: { host: "web" } }] }, { route: [{ destination: { host: "web" } }] }] } });
  await ok("POST", "/apis/networking.istio.io/v1/namespaces/shop/virtualservices", vs("web", "through-kube"));
  await waitFor("the API server's VirtualService at the proxy", () => rec.routesText().includes("through-kube"), LIMIT);
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/shop/virtualservices/web`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(vs("web", "through-trellis")) });
  assert.equal(res.status, 200, await res.text());
  await waitFor("the REST API's VirtualService at the proxy", () => rec.routesText().includes("through-trellis") && !rec.routesText().includes("through-kube"), LIMIT);
  const stored = await ok("GET", "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/web") as { spec: { http: Array<{ match?: Array<{ headers: Record<string, { exact: string }> }> }> } };
  assert.equal(stored.spec.http[0].match![0].headers["x-marker"].exact, "through-trellis", "the write is in the API server");
});

test("the REST API answers the API server's refusals with their own status, not 500", { skip }, async () => {
  const body = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "lost", namespace: "nowhere" }, spec: { hosts: ["web"], http: [{ route: [{ destination: { host: "web" } }] }] } };
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/nowhere/virtualservices`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const status = await res.json() as { code: number; reason: string; message: string };
  assert.equal(res.status, 404, JSON.stringify(status));
  assert.equal(status.reason, "NotFound");
  assert.match(status.message, /the Kubernetes API server refused it: .*namespaces "nowhere" not found/);
});

test("API server restarted and etcd compacted mid-watch: the control plane relists and nothing stale survives", { skip }, async () => {
  const reflectorStats = () => (kube as unknown as { registry: { reflectors: Record<string, { stats: { gone: number } }> } }).registry.reflectors;
  const goneBefore = Object.values(reflectorStats()).reduce((n, r) => n + r.stats.gone, 0);
  // Writes the control plane sees, then compaction past the versions its quiet watches (nodes, namespaces) hold.
  await runningPod("shop", "web-3", "10.244.0.13", { app: "web" });
  await waitFor("web-3", () => rec.endpoints(WEB).length === 3, LIMIT);
  await cluster.compactEtcd();
  await cluster.restartApiServer();
  // Changes right after the restart, while the control plane is still reconnecting.
  // Grace period 0: no kubelet confirms a graceful deletion here (kubectl delete --grace-period=0 --force).
  await ok("DELETE", "/api/v1/namespaces/shop/pods/web-2?gracePeriodSeconds=0");
  await ok("DELETE", "/api/v1/namespaces/shop/pods/web-3?gracePeriodSeconds=0");
  await ok("DELETE", "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/web");
  await cluster.compactEtcd();
  await waitFor("only web-1 and no VirtualService", () => rec.endpoints(WEB).join() === "10.244.0.11:8080" && !rec.routesText().includes("through-trellis"), LIMIT);
  await waitFor("a relist after 410", () => Object.values(reflectorStats()).reduce((n, r) => n + r.stats.gone, 0) > goneBefore, LIMIT);
  assert.equal(cp.store.get("VirtualService", "shop", "web"), undefined);
  // And the control plane still follows changes afterwards.
  await runningPod("shop", "web-4", "10.244.0.14", { app: "web" });
  await waitFor("web-4", () => rec.endpoints(WEB).join() === "10.244.0.11:8080,10.244.0.14:8080", LIMIT);
});

test("RBAC: a user without the ClusterRole is told which verb on which resource is missing", { skip }, async () => {
  const denied: string[] = [];
  const nobody = new KubeMode(loadKubeconfig(await cluster.kubeconfigForUser("trellis-nobody")), { log: (l) => denied.push(l), syncTimeoutMs: 2000, initialBackoffMs: 200, maxBackoffMs: 1000 });
  cleanups.push(() => nobody.stop());
  await nobody.start();
  const text = denied.join("\n");
  for (const resource of ["services", "endpointslices", "pods", "nodes", "namespaces", "virtualservices"]) {
    assert.match(text, new RegExp(`list ${resource} at the cluster scope: Forbidden: .*ClusterRole must grant "list" on "${resource}"`), text);
  }
});
