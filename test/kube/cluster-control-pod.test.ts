// The control plane as a pod serving sidecars in other pods, as Istio runs: Deployment istiod (image trellis/control,
// in-cluster configuration, the manifests' RBAC) behind Service istiod; two workload pods whose `trellis proxy`
// sidecars (image istio/proxyv2) reach it by the Service's name through the cluster DNS and kube-proxy, get their
// certificates with the projected istio-token and their config over ADS, and carry a request from one pod to the
// other with mutual TLS (the server's sidecar reports the request as mutual_tls from the client's identity). Two
// replicas: the one the client's sidecar is connected to is deleted while requests flow (none fails), and a
// VirtualService written afterwards reaches that sidecar through the survivor. A Service without endpoints still has
// its cluster: 503 "no healthy upstream" (UH), not 404 "no route" (NR). A headless Service is reached through the
// mesh too: an EDS cluster of its ready pods' IPs (the shape of Istio's PILOT_ENABLE_HEADLESS_SERVICE_POD_LISTENERS,
// not its default ORIGINAL_DST cluster, which would reach whichever pod IP the app dialled).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/control/kube/client.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { applyControlRbac, CONTROL_NAMESPACE } from "../fixtures/control-rbac.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { startKubeletStandIn, type KubeletStandIn } from "../fixtures/kube/kubelet/kubelet-standin.js";
import { podNetworkUnavailable } from "../fixtures/kube/kubelet/pod-network.js";
import { bootstrapConfigMap, controlPlaneDeployment, controlPlaneService, sidecarPod, type SidecarPodSpec } from "../fixtures/kube/mesh-pods.js";

const bins = await kubeBinaries();
const skip = !bins.ok ? bins.reason : podNetworkUnavailable() ?? false;
const WAIT_MS = 90_000;
const NS = "mesh";

const web: SidecarPodSpec = {
  name: "web", namespace: NS, serviceAccount: "web", labels: { app: "web", version: "v1" }, appPort: 8000, interceptInbound: [8000],
  app: { name: "httpbin", image: "kennethreitz/httpbin", args: ["web-v1"], env: [{ name: "PORT", value: "8000" }], ports: [{ containerPort: 8000 }] },
};
const sleep: SidecarPodSpec = {
  name: "sleep", namespace: NS, serviceAccount: "sleep", labels: { app: "sleep" },
  upstreams: [{ host: `web.${NS}.svc.cluster.local`, port: 80, localPort: 15101 }, { host: `idle.${NS}.svc.cluster.local`, port: 80, localPort: 15102 },
    { host: `web-headless.${NS}.svc.cluster.local`, port: 8000, localPort: 15103 }],
  app: { name: "sleep", image: "curlimages/curl", command: ["sleep", "3600"] },
};

type PodList = { items: Array<{ metadata: { name: string }; status: { phase?: string; conditions?: Array<{ type: string; status: string }> } }> };
const ready = (p: PodList["items"][number]) => !!p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");

describe("the control plane as a pod, serving sidecars in other pods by the Service's name", { skip }, () => {
  let cluster: KubeCluster;
  let kubelet: KubeletStandIn;

  const create = async (path: string, body: unknown) => {
    const res = await cluster.request("POST", path, body);
    assert.ok(res.status === 201 || res.status === 409, `${path}: ${res.status} ${res.text}`);
  };
  const podsReady = (ns: string, count: number, what: string) => waitFor(what, WAIT_MS, async () => {
    const res = await cluster.request<PodList>("GET", `/api/v1/namespaces/${ns}/pods`);
    return res.body.items.length === count && res.body.items.every(ready) ? true : undefined;
  }, 500).catch((err: Error) => { throw new Error(`${err.message}\n${logs()}`); });
  const logs = () => [[CONTROL_NAMESPACE, "discovery"], [NS, "istio-proxy"]].map(([ns, c]) => kubelet.podLogs(ns, c)).join("\n");

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const standin = await startKubeletStandIn(cluster);
    if (!standin.ok) throw new Error(standin.reason);
    kubelet = standin.kubelet;
    const admin = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
    await installCrds(admin, loadCrds());
    admin.close();
    await applyControlRbac(cluster);
    await create(`/apis/apps/v1/namespaces/${CONTROL_NAMESPACE}/deployments`, controlPlaneDeployment(2));
    await create(`/api/v1/namespaces/${CONTROL_NAMESPACE}/services`, controlPlaneService());
    await create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    for (const sa of ["web", "sleep"]) await create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa } });
    for (const [name, app] of [["web", "web"], ["idle", "nothing-runs-this"]]) {
      await create(`/api/v1/namespaces/${NS}/services`, { apiVersion: "v1", kind: "Service", metadata: { name, namespace: NS }, spec: { selector: { app }, ports: [{ name: "http", port: 80, targetPort: 8000 }] } });
    }
    await create(`/api/v1/namespaces/${NS}/services`, { apiVersion: "v1", kind: "Service", metadata: { name: "web-headless", namespace: NS }, spec: { clusterIP: "None", selector: { app: "web" }, ports: [{ name: "http", port: 8000 }] } });
    await podsReady(CONTROL_NAMESPACE, 2, "both istiod pods Ready");
    for (const p of [web, sleep]) {
      await create(`/api/v1/namespaces/${NS}/configmaps`, bootstrapConfigMap(p));
      // The pods mount istio-ca-root-cert, which the control plane's leader writes into every namespace (the stand-in
      // waits for it as the kubelet does).
      await create(`/api/v1/namespaces/${NS}/pods`, sidecarPod(p));
    }
    await podsReady(NS, 2, "web and sleep Ready (their sidecars have config and certificates)");
  });
  after(async () => {
    await kubelet?.stop();
    await cluster?.stop();
  });

  const curl = async (args: string[]) => {
    const r = await kubelet.pod(NS, "sleep")!.exec("sleep", ["curl", "-s", "--max-time", "5", ...args]);
    return r.stdout;
  };

  it("carries a request from one pod's sidecar to the other's over mutual TLS", async () => {
    const client = kubelet.pod(NS, "sleep")!;
    const answer = await waitFor("a 200 through both sidecars", WAIT_MS, async () => {
      const r = await client.exec("sleep", ["curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", "http://127.0.0.1:15101/hello"]);
      return r.stdout.endsWith("\n200") ? r.stdout : undefined;
    }, 1000).catch((err: Error) => { throw new Error(`${err.message}\n${logs()}`); });
    assert.deepEqual(JSON.parse(answer.split("\n")[0]), { version: "web-v1", path: "/hello" });
    // Auto mTLS turns on for web's endpoint once its sidecar has proven its identity and the client has heard so
    // (Istio decides it from the pod's injection label at once), so the first requests may still go in plaintext.
    const mtls = (line: string) => line.includes('reporter="destination"') && line.includes('response_code="200"') && line.includes('connection_security_policy="mutual_tls"');
    const line = await waitFor("a request the server's sidecar took over mutual TLS", WAIT_MS, async () => {
      await client.exec("sleep", ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "http://127.0.0.1:15101/hello-mtls"]);
      const stats = await kubelet.pod(NS, "web")!.exec("httpbin", ["curl", "-s", "--max-time", "5", "http://127.0.0.1:15020/stats/prometheus"]);
      return stats.stdout.split("\n").find((l) => l.startsWith("istio_requests_total{") && mtls(l));
    }, 1000);
    assert.match(line, new RegExp(`source_principal="spiffe://cluster.local/ns/${NS}/sa/sleep"`));
  });

  it("reaches a headless Service's pod through the mesh", async () => {
    const out = await waitFor("a 200 from the headless Service", WAIT_MS, async () => {
      const o = await curl(["-w", "\n%{http_code}", "http://127.0.0.1:15103/headless"]);
      return o.endsWith("\n200") ? o : undefined;
    }, 1000);
    assert.deepEqual(JSON.parse(out.split("\n")[0]), { version: "web-v1", path: "/headless" });
  });

  it("answers 503 no healthy upstream (UH) for a Service without endpoints, not 404 no route", async () => {
    const out = await waitFor("the idle Service's route", WAIT_MS, async () => {
      const o = await curl(["-i", "http://127.0.0.1:15102/"]);
      return /^HTTP\/1\.1 (\d+)/.exec(o)?.[1] === "503" ? o : undefined;
    }, 1000);
    assert.match(out, /no healthy upstream/);
  });

  it("keeps every request working while the replica the sidecar uses dies, and resyncs from the survivor", async () => {
    const pods = await cluster.request<PodList>("GET", `/api/v1/namespaces/${CONTROL_NAMESPACE}/pods`);
    const sleepIp = kubelet.pod(NS, "sleep")!.ip;
    // Which replica the client's sidecar streams from: the one with an established connection from its pod IP.
    let victim = "";
    for (const p of pods.body.items) {
      const ss = await kubelet.pod(CONTROL_NAMESPACE, p.metadata.name)!.exec("discovery", ["ss", "-Htn", "state", "established", "( sport = :15012 )"]);
      if (ss.stdout.includes(`${sleepIp}:`)) victim = p.metadata.name;
    }
    assert.ok(victim, "the sleep sidecar streams from neither replica");
    const requests = 60;
    const load = kubelet.pod(NS, "sleep")!.exec("sleep", ["sh", "-c", `for i in $(seq 1 ${requests}); do curl -s -o /dev/null -w "%{http_code}\\n" --max-time 5 http://127.0.0.1:15101/during-kill; sleep 0.1; done`], 120_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const deleted = await cluster.request("DELETE", `/api/v1/namespaces/${CONTROL_NAMESPACE}/pods/${victim}`, { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 });
    assert.equal(deleted.status, 200, deleted.text);
    const codes = (await load).stdout.trim().split("\n");
    assert.equal(codes.length, requests);
    assert.deepEqual(codes.filter((c) => c !== "200"), [], "requests failed while a control-plane replica died");
    // New config reaches the sidecar whose replica died: it reconnected (through the Service) to the survivor.
    await create(`/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`, {
      apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "web", namespace: NS },
      spec: { hosts: [`web.${NS}.svc.cluster.local`], http: [
        { match: [{ uri: { prefix: "/after-kill" } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }, route: [{ destination: { host: `web.${NS}.svc.cluster.local` } }] },
        { route: [{ destination: { host: `web.${NS}.svc.cluster.local` } }] },
      ] },
    });
    await waitFor("the VirtualService written after the kill at the client's sidecar", WAIT_MS, async () => ((await curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:15101/after-kill"])) === "418" ? true : undefined), 1000)
      .catch((err: Error) => { throw new Error(`${err.message}\n${logs()}`); });
  });
});
