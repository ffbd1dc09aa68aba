// Injected pods running in the kubelet stand-in against the real API server: the API server calls the injector,
// istio-init (trellis istio-iptables) installs the rules in the pod's network namespace, the sidecar (uid 1337) gets
// its certificate and config from the control plane with the pod's istio-token, the app's readiness probe is answered
// through 15021 /app-health, and a request from one injected pod to another's Service by its DNS name crosses both
// sidecars with mutual TLS: the name resolves (CoreDNS) to the ClusterIP, which is the VIP the sidecar's listener
// takes, so the call does not slip past the sidecar to kube-proxy in plaintext. Pods reach the control plane on the
// host through the stand-in's gateway (network.exposeHostPort), named to the sidecars by the mesh config's
// defaultConfig.discoveryAddress.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { POD_GATEWAY, startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { startKubeletStandIn, type KubeletStandIn } from "../fixtures/kube/kubelet/kubelet-standin.js";
import { podNetworkUnavailable } from "../fixtures/kube/kubelet/pod-network.js";
import { applyControlRbac } from "../fixtures/control-rbac.js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { KubeMode } from "../../src/control/kube/kube-mode.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { applyMeshConfig, defaultSettings } from "../../src/control/kube/inject/inject-settings.js";

const bins = await kubeBinaries();
const skip = !bins.ok ? bins.reason : (podNetworkUnavailable() ?? false);
const LIMIT_MS = 150_000;
const GATEWAY_XDS_PORT = 15012;

type PodStatus = { podIP?: string; phase?: string; conditions?: Array<{ type: string; status: string }>; initContainerStatuses?: Array<{ name: string; state?: { terminated?: { exitCode: number } } }> };
type Pod = { metadata: { name: string }; spec: { containers: Array<{ name: string }> }; status: PodStatus };

let cluster: KubeCluster;
let kubelet: KubeletStandIn;
let kube: KubeMode;
let cp: ControlPlane;
const dir = mkdtempSync(join(tmpdir(), "trellis-kube-inject-run-"));
const ns = "mesh";
let vip = "";

const ok = async (method: string, path: string, body?: unknown) => {
  const res = await cluster.request(method, path, body);
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
};
const pod = async (name: string) => (await cluster.request<Pod>("GET", `/api/v1/namespaces/${ns}/pods/${name}`)).body;
const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const log = (name: string, container: string) => {
  try {
    return readFileSync(kubelet.pod(ns, name)!.logPath(container), "utf8");
  } catch {
    return "";
  }
};

const t0 = Date.now();
const mark = (what: string) => console.error(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);

async function setUp(): Promise<void> {
  const started = await startKubeCluster();
  if (!started.ok) throw new Error(started.reason);
  cluster = started.cluster;
  mark("cluster up");
  const standIn = await startKubeletStandIn(cluster);
  if (!standIn.ok) throw new Error(standIn.reason);
  kubelet = standIn.kubelet;
  const kubeconfig = await applyControlRbac(cluster);
  kube = new KubeMode(loadKubeconfig(kubeconfig), { log: () => {}, syncTimeoutMs: 10_000 });
  const admin = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
  await installCrds(admin, loadCrds());
  admin.close();
  const settings = applyMeshConfig(defaultSettings(), `defaultConfig:\n  discoveryAddress: ${POD_GATEWAY}:${GATEWAY_XDS_PORT}\n`, "test mesh config");
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, kube, log: () => {},
    kubeIdentity: { client: kube.client, webhook: { port: 0, url: "https://127.0.0.1:0/validate", inject: { settings: () => settings } }, election: { leaseDurationMs: 4000, renewIntervalMs: 1000, retryIntervalMs: 500 } } });
  await cp.start();
  mark("control plane up");
  await kubelet.network.exposeHostPort(cp.ports.ca, GATEWAY_XDS_PORT);
  await ok("POST", "/api/v1/namespaces", { metadata: { name: ns, labels: { "istio-injection": "enabled" } } });
  await waitFor(`the default ServiceAccount in ${ns}`, LIMIT_MS, async () => ((await cluster.request("GET", `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status === 200 ? true : undefined), 500);
  await waitFor("the injector to be called", LIMIT_MS, async () => {
    const res = await cluster.request<Pod>("POST", `/api/v1/namespaces/${ns}/pods?dryRun=All`, { metadata: { name: "probe" }, spec: { containers: [{ name: "c", image: "httpbin" }] } });
    return res.status === 201 && res.body.spec.containers.some((c) => c.name === "istio-proxy") ? true : undefined;
  }, 500);
  mark("injector called");
  await ok("POST", `/api/v1/namespaces/${ns}/services`, { metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 8000, targetPort: 8080 }] } });
  await ok("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "web", labels: { app: "web", version: "v1" } }, spec: { containers: [{
    name: "web", image: "httpbin", args: ["v1"], env: [{ name: "PORT", value: "8080" }], ports: [{ name: "http", containerPort: 8080 }],
    readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 2 },
  }] } });
  // The address sidecars give the Service in transparent mode: its ClusterIP, known once the Service has a workload.
  const clusterIp = ((await ok("GET", `/api/v1/namespaces/${ns}/services/web`)) as { spec: { clusterIP: string } }).spec.clusterIP;
  vip = await waitFor("the Service's VIP from the control plane", LIMIT_MS, async () => {
    const info = (await (await fetch(`http://127.0.0.1:${cp.ports.api}/debug/transparent`)).json()) as { vips: Record<string, string> };
    return info.vips["web.mesh.svc.cluster.local"];
  }, 500);
  assert.equal(vip, clusterIp, "the sidecars' VIP for the Service is its ClusterIP");
  mark(`the Service's VIP: ${vip}`);
  // The caller calls by name once a second (bounded), printing each answer, then idles.
  const script = `for i in $(seq 1 150); do wget -q -O- -T 5 http://web.${ns}.svc.cluster.local:8000/through-sidecars && echo && echo CALL-OK; sleep 1; done; exec sleep 600`;
  await ok("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "client", labels: { app: "client" } }, spec: { containers: [{ name: "client", image: "busybox", command: ["sh", "-c", script] }] } });
}
// Setup outside any test: node:test's per-test timeout (180 s in run-tests.mjs) then covers each test's own wait.
if (!skip) await setUp();
after(async () => {
  await kubelet?.stop();
  await cp?.stop();
  await kube?.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("istio-init installs the interception rules in the pod's namespace and exits 0", { skip }, async () => {
  const web = await waitFor("web's init container to finish", LIMIT_MS, async () => {
    const p = await pod("web");
    return p.status.initContainerStatuses?.[0]?.state?.terminated ? p : undefined;
  }, 1000);
  mark("istio-init done");
  assert.equal(web.status.initContainerStatuses![0].name, "istio-init");
  assert.equal(web.status.initContainerStatuses![0].state!.terminated!.exitCode, 0, log("web", "istio-init"));
  assert.match(log("web", "istio-init"), /-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN[\s\S]*interception rules installed/);
});

test("the pod becomes Ready: the sidecar has its config, and the app's probe is answered through 15021", { skip }, async () => {
  const web = await waitFor("web to be Ready", LIMIT_MS, async () => {
    const p = await pod("web");
    return ready(p) ? p : undefined;
  }, 1000).catch((err: Error) => { throw new Error(`${err.message}\nistio-proxy log:\n${log("web", "istio-proxy").slice(-3000)}`); });
  mark("web Ready");
  assert.match(log("web", "istio-proxy"), /trellis proxy sidecar: pod mesh\/web \(uid 1337\)/);
  const health = await kubelet.network.forwardToPod(web.status.podIP!, 15021);
  const probed = await fetch(`http://127.0.0.1:${health}/app-health/web/readyz`);
  assert.equal(probed.status, 200);
  const sidecarReady = await fetch(`http://127.0.0.1:${health}/healthz/ready`);
  assert.equal(sidecarReady.status, 200);
});

test("a request from one injected pod reaches another's Service through both sidecars, over mutual TLS", { skip }, async () => {
  await waitFor("the client's call to succeed", LIMIT_MS, async () => (/CALL-OK/.test(log("client", "client")) ? true : undefined), 1000)
    .catch((err: Error) => { throw new Error(`${err.message}\nclient:\n${log("client", "client").slice(-1500)}\nclient istio-proxy:\n${log("client", "istio-proxy").slice(-3000)}`); });
  mark("client call done");
  assert.match(log("client", "client"), /\{"version":"v1","path":"\/through-sidecars"\}/);
  const web = await pod("web");
  const stats = await kubelet.network.forwardToPod(web.status.podIP!, 15020);
  // Peers learn that web takes mutual TLS once its proxy proved its identity; the caller keeps calling meanwhile.
  const line = await waitFor("a request from the client over mutual TLS in web's metrics", LIMIT_MS, async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${stats}/stats/prometheus`)).text();
    return metrics.split("\n").find((l) => l.startsWith("istio_requests_total{") && l.includes('reporter="destination"') && l.includes('source_workload_namespace="mesh"') && l.includes('connection_security_policy="mutual_tls"'));
  }, 1000);
  mark("mutual TLS seen");
  assert.match(line, /request_protocol="http",response_code="200"/);
  // Workload names and labels as Istio's telemetry has them (the injector's WORKLOAD_NAME, the downward API's labels).
  assert.match(line, /source_workload="client",source_workload_namespace="mesh",source_principal="spiffe:\/\/cluster.local\/ns\/mesh\/sa\/default",source_app="client"/);
  assert.match(line, /destination_workload="web",.*destination_app="web",destination_version="v1"/);

});

