// Proves the test cluster's Service networking and DNS from inside a pod, as on a real node: the real kube-proxy routes
// a ClusterIP to both pods of a Service, a NodePort on the node's address and the `kubernetes` Service to the API
// server; the real CoreDNS answers NAME.NS.svc.cluster.local and the search path's short names, a headless Service
// with its pods' IPs, and a name outside the cluster with an error at once (nothing leaves the machine).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../fixtures/kube/api-client.js";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { POD_GATEWAY, startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { startKubeletStandIn, type KubeletStandIn } from "../fixtures/kube/kubelet/kubelet-standin.js";
import { podNetworkUnavailable } from "../fixtures/kube/kubelet/pod-network.js";
import type { RunningPod } from "../fixtures/kube/kubelet/running-pod.js";

const bins = await kubeBinaries();
const skip = !bins.ok ? bins.reason : podNetworkUnavailable() ?? false;
const WAIT_MS = 180_000;
const NS = "net";

const web = (name: string, version: string) => ({
  apiVersion: "v1", kind: "Pod", metadata: { name, namespace: NS, labels: { app: "web" } },
  spec: { containers: [{ name: "httpbin", image: "kennethreitz/httpbin", args: [version], env: [{ name: "PORT", value: "8000" }], ports: [{ containerPort: 8000 }], readinessProbe: { tcpSocket: { port: 8000 }, periodSeconds: 1 } }] },
});
const service = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "v1", kind: "Service", metadata: { name, namespace: NS }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8000 }], ...spec },
});

describe("Service networking and cluster DNS in the test cluster", { skip }, () => {
  let cluster: KubeCluster;
  let kubelet: KubeletStandIn;
  let client: RunningPod;
  let clusterIp = "";
  let nodePort = 0;

  const sh = async (script: string) => {
    const r = await client.exec("shell", ["sh", "-c", script]);
    return { ...r, stdout: r.stdout.trim() };
  };

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const standin = await startKubeletStandIn(cluster);
    if (!standin.ok) throw new Error(standin.reason);
    kubelet = standin.kubelet;
    const create = async (path: string, body: unknown) => {
      const res = await cluster.request("POST", path, body);
      assert.equal(res.status, 201, `${path}: ${res.text}`);
      return res.body as { spec: { clusterIP: string; ports: Array<{ nodePort?: number }> } };
    };
    await create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await waitFor("the default ServiceAccount in net", WAIT_MS, async () => ((await cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/default`)).status === 200 ? true : undefined), 500);
    clusterIp = (await create(`/api/v1/namespaces/${NS}/services`, service("web", {}))).spec.clusterIP;
    await create(`/api/v1/namespaces/${NS}/services`, service("web-headless", { clusterIP: "None" }));
    nodePort = (await create(`/api/v1/namespaces/${NS}/services`, service("web-np", { type: "NodePort" }))).spec.ports[0].nodePort!;
    for (const [name, version] of [["web-1", "one"], ["web-2", "two"]]) await create(`/api/v1/namespaces/${NS}/pods`, web(name, version));
    await create(`/api/v1/namespaces/${NS}/pods`, { apiVersion: "v1", kind: "Pod", metadata: { name: "client", namespace: NS }, spec: { containers: [{ name: "shell", image: "debian", command: ["sleep", "3600"] }] } });
    await waitFor("web-1, web-2 and client running and ready", WAIT_MS, async () => {
      const res = await cluster.request<{ items: Array<{ status: { conditions?: Array<{ type: string; status: string }> } }> }>("GET", `/api/v1/namespaces/${NS}/pods`);
      return res.body.items.length === 3 && res.body.items.every((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")) ? true : undefined;
    }, 500);
    client = kubelet.pod(NS, "client")!;
  });
  after(async () => {
    await kubelet?.stop();
    await cluster?.stop();
  });

  it("writes the pod's resolv.conf with the cluster DNS and Kubernetes' search path", async () => {
    const conf = (await sh("cat /etc/resolv.conf")).stdout;
    assert.match(conf, new RegExp(`^search ${NS}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local$`, "m"));
    assert.match(conf, new RegExp(`^nameserver ${POD_GATEWAY.replace(/\./g, "\\.")}$`, "m"));
    assert.match(conf, /^options ndots:5$/m);
  });

  it("resolves a Service by its full name and by the search path's short names", async () => {
    for (const name of ["web.net.svc.cluster.local", "web.net", "web"]) {
      // Until CoreDNS has seen the Service (its watch runs behind the API server's).
      const answer = await waitFor(`${name} to resolve`, WAIT_MS, async () => {
        const r = await sh(`getent ahostsv4 ${name} | awk '{print $1}' | sort -u`);
        return r.code === 0 && r.stdout ? r.stdout : undefined;
      }, 500);
      assert.equal(answer, clusterIp, name);
    }
  });

  it("resolves a headless Service to its ready pods' IPs", async () => {
    const podIps = [kubelet.pod(NS, "web-1")!.ip, kubelet.pod(NS, "web-2")!.ip].sort();
    const answer = await waitFor("web-headless to list both pods", WAIT_MS, async () => {
      const r = await sh("getent ahostsv4 web-headless | awk '{print $1}' | sort -u");
      return r.stdout.split("\n").length === 2 ? r.stdout.split("\n") : undefined;
    }, 500);
    assert.deepEqual(answer, podIps);
  });

  it("answers a name outside the cluster with an error at once, not a timeout", async () => {
    const r = await sh("getent hosts example.com");
    assert.notEqual(r.code, 0);
  });

  it("routes the ClusterIP by name to both endpoints through kube-proxy's rules", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = await sh("curl -s --max-time 5 http://web/get");
      assert.equal(r.code, 0, `curl http://web/get: ${r.stderr}`);
      seen.add((JSON.parse(r.stdout) as { version: string }).version);
    }
    assert.deepEqual([...seen].sort(), ["one", "two"]);
  });

  it("routes a NodePort on the node's address, and the kubernetes Service to the API server", async () => {
    const np = await sh(`curl -s --max-time 5 http://${POD_GATEWAY}:${nodePort}/np`);
    assert.equal(np.code, 0, np.stderr);
    assert.equal((JSON.parse(np.stdout) as { path: string }).path, "/np");
    // The ServiceAccount admission plugin mounted the API's CA (kube-root-ca.crt) where in-cluster clients read it.
    const api = await sh("curl -s --max-time 5 --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt https://kubernetes.default.svc/readyz");
    assert.equal(api.stdout, "ok", `kubernetes.default.svc/readyz: ${api.stderr} ${kubelet.nodeLog("kube-proxy")}`);
  });

  it("reaches a ClusterIP from the host through the node's forwarder", async () => {
    const port = await kubelet.network.forwardToPod(clusterIp, 80);
    const res = await fetch(`http://127.0.0.1:${port}/from-host`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { path: string }).path, "/from-host");
  });
});
