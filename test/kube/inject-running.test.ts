// Injected pods running in the kubelet stand-in against the real API server: the API server calls the injector,
// istio-init (trellis istio-iptables) installs the rules in the pod's network namespace, the sidecar (uid 1337) gets
// its certificate and config from the control plane with the pod's istio-token, the app's readiness probe is answered
// through 15021 /app-health, and a request from one injected pod to another's Service crosses both sidecars (no
// kube-proxy runs: the Service's cluster IP is only reachable through the client's sidecar), with mutual TLS.
// Before Service networking lands, pods reach the control plane on the host through the stand-in's gateway
// (network.exposeHostPort), named to the sidecars by the mesh config's defaultConfig.discoveryAddress.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { POD_GATEWAY, startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { startKubeletStandIn, type KubeletStandIn } from "../fixtures/kube/kubelet/kubelet-standin.js";
import { podNetworkUnavailable } from "../fixtures/kube/kubelet/pod-network.js";
import { applyControlRbac } from "../fixtures/control-rbac.js";
import { ControlPlane } from "../../src/control/control-plane.js";
import { KubeMode } from "../../src/control/kube/kube-mode.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { applyMeshConfig, defaultSettings } from "../../src/control/kube/inject/inject-settings.js";

const bins = await kubeBinaries();
const skip = !bins.ok ? bins.reason : (podNetworkUnavailable() ?? false);
const LIMIT_MS = 180_000;
const GATEWAY_XDS_PORT = 15012;

type PodStatus = { podIP?: string; phase?: string; conditions?: Array<{ type: string; status: string }>; initContainerStatuses?: Array<{ name: string; state?: { terminated?: { exitCode: number } } }> };
type Pod = { metadata: { name: string }; spec: { containers: Array<{ name: string }> }; status: PodStatus };

describe("injected pods running in the kubelet stand-in", { skip }, () => {
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

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
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
    await kubelet.network.exposeHostPort(cp.ports.ca, GATEWAY_XDS_PORT);
    await ok("POST", "/api/v1/namespaces", { metadata: { name: ns, labels: { "istio-injection": "enabled" } } });
    await waitFor(`the default ServiceAccount in ${ns}`, LIMIT_MS, async () => ((await cluster.request("GET", `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status === 200 ? true : undefined), 500);
    await waitFor("the injector to be called", LIMIT_MS, async () => {
      const res = await cluster.request<Pod>("POST", `/api/v1/namespaces/${ns}/pods?dryRun=All`, { metadata: { name: "probe" }, spec: { containers: [{ name: "c", image: "httpbin" }] } });
      return res.status === 201 && res.body.spec.containers.some((c) => c.name === "istio-proxy") ? true : undefined;
    }, 500);
    const svc = await ok("POST", `/api/v1/namespaces/${ns}/services`, { metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 8000, targetPort: 8080 }] } }) as { spec: { clusterIP: string } };
    vip = svc.spec.clusterIP;
    await ok("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "web", labels: { app: "web", version: "v1" } }, spec: { containers: [{
      name: "web", image: "httpbin", args: ["v1"], env: [{ name: "PORT", value: "8080" }], ports: [{ name: "http", containerPort: 8080 }],
      readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 2 },
    }] } });
    // The caller retries until its sidecar is up (bounded), prints the answer, then idles.
    const script = `for i in $(seq 1 150); do if wget -q -O- -T 5 http://${vip}:8000/through-sidecars; then echo; echo CALL-OK; break; fi; sleep 1; done; sleep 600`;
    await ok("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "client", labels: { app: "client" } }, spec: { containers: [{ name: "client", image: "busybox", command: ["sh", "-c", script] }] } });
  });
  after(async () => {
    await kubelet?.stop();
    await cp?.stop();
    await kube?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("istio-init installs the interception rules in the pod's namespace and exits 0", async () => {
    const web = await waitFor("web's init container to finish", LIMIT_MS, async () => {
      const p = await pod("web");
      return p.status.initContainerStatuses?.[0]?.state?.terminated ? p : undefined;
    }, 1000);
    assert.equal(web.status.initContainerStatuses![0].name, "istio-init");
    assert.equal(web.status.initContainerStatuses![0].state!.terminated!.exitCode, 0, log("web", "istio-init"));
    assert.match(log("web", "istio-init"), /-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN[\s\S]*interception rules installed/);
  });

  it("the pod becomes Ready: the sidecar has its config, and the app's probe is answered through 15021", async () => {
    const web = await waitFor("web to be Ready", LIMIT_MS, async () => {
      const p = await pod("web");
      return ready(p) ? p : undefined;
    }, 1000).catch((err: Error) => { throw new Error(`${err.message}\nistio-proxy log:\n${log("web", "istio-proxy").slice(-3000)}`); });
    assert.match(log("web", "istio-proxy"), /trellis proxy sidecar: pod mesh\/web \(uid 1337\)/);
    const health = await kubelet.network.forwardToPod(web.status.podIP!, 15021);
    const probed = await fetch(`http://127.0.0.1:${health}/app-health/web/readyz`);
    assert.equal(probed.status, 200);
    const sidecarReady = await fetch(`http://127.0.0.1:${health}/healthz/ready`);
    assert.equal(sidecarReady.status, 200);
  });

  it("a request from one injected pod reaches another's Service through both sidecars, over mutual TLS", async () => {
    await waitFor("the client's call to succeed", LIMIT_MS, async () => (/CALL-OK/.test(log("client", "client")) ? true : undefined), 1000)
      .catch((err: Error) => { throw new Error(`${err.message}\nclient:\n${log("client", "client").slice(-1500)}\nclient istio-proxy:\n${log("client", "istio-proxy").slice(-3000)}`); });
    assert.match(log("client", "client"), /\{"version":"v1","path":"\/through-sidecars"\}/);
    const web = await pod("web");
    const stats = await kubelet.network.forwardToPod(web.status.podIP!, 15020);
    const metrics = await (await fetch(`http://127.0.0.1:${stats}/stats/prometheus`)).text();
    const line = metrics.split("\n").find((l) => l.startsWith("istio_requests_total{") && l.includes('reporter="destination"') && l.includes('source_workload="client"'));
    assert.ok(line, `no destination-reported request from the client in web's metrics:\n${metrics.slice(0, 2000)}`);
    assert.match(line, /connection_security_policy="mutual_tls"/);
  });
});
