// Proves the Kubernetes test cluster fixture against the real components: the API server answers, RBAC holds for
// minted kubeconfigs, TokenRequest tokens verify through TokenReview (for their audience only), the API server
// restarts on the same etcd and compaction makes old resource versions 410 Gone; with root, a Deployment becomes a
// ReplicaSet and pods (real controllers) that the kubelet stand-in runs to Ready, and a Service's EndpointSlice.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiRequest, openWatch, waitFor } from "../fixtures/kube/api-client.js";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { readKubeconfig } from "../fixtures/kube/kubeconfig.js";
import { createCa, issueServing } from "../fixtures/kube/pki.js";
import { startKubeletStandIn, type KubeletStandIn } from "../fixtures/kube/kubelet/kubelet-standin.js";
import { podNetworkUnavailable } from "../fixtures/kube/kubelet/pod-network.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;
const WAIT_MS = 180_000;

describe("the Kubernetes test cluster", { skip }, () => {
  let cluster: KubeCluster;
  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
  });
  after(() => cluster?.stop());

  it("serves the pinned release and its admin kubeconfig works", async () => {
    const version = await cluster.request<{ gitVersion: string }>("GET", "/version");
    assert.equal(version.status, 200);
    assert.match(version.body.gitVersion, /^v1\.\d+\.\d+$/);
    const admin = readKubeconfig(cluster.adminKubeconfig);
    const ns = await apiRequest<{ items: Array<{ metadata: { name: string } }> }>(admin.server, admin, "GET", "/api/v1/namespaces");
    assert.ok(ns.body.items.some((n) => n.metadata.name === "kube-system"));
  });

  it("mints a cert user that RBAC refuses until a ClusterRole is bound to it", async () => {
    const alice = readKubeconfig(await cluster.kubeconfigForUser("alice", ["team-a"]));
    const denied = await apiRequest<{ message: string }>(alice.server, alice, "GET", "/api/v1/services");
    assert.equal(denied.status, 403);
    assert.match(denied.body.message, /"alice" cannot list resource "services"/);
    await cluster.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", { metadata: { name: "svc-reader" }, rules: [{ apiGroups: [""], resources: ["services"], verbs: ["list"] }] });
    await cluster.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "team-a-svc-reader" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "svc-reader" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "team-a" }],
    });
    await waitFor("the binding to take effect", 30_000, async () => ((await apiRequest(alice.server, alice, "GET", "/api/v1/services")).status === 200 ? true : undefined));
  });

  it("verifies a TokenRequest token through TokenReview for its audience only, and a ServiceAccount kubeconfig", async () => {
    assert.equal((await cluster.request("POST", "/api/v1/namespaces/default/serviceaccounts", { metadata: { name: "workload" } })).status, 201);
    const token = await cluster.serviceAccountToken("default", "workload", ["istio-ca"]);
    type Review = { status: { authenticated?: boolean; user?: { username: string }; audiences?: string[] } };
    const review = (audiences: string[]) => cluster.request<Review>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences } });
    const ok = await review(["istio-ca"]);
    assert.equal(ok.body.status.authenticated, true);
    assert.equal(ok.body.status.user?.username, "system:serviceaccount:default:workload");
    assert.deepEqual(ok.body.status.audiences, ["istio-ca"]);
    assert.notEqual((await review(["another-audience"])).body.status.authenticated, true);
    const sa = readKubeconfig(await cluster.kubeconfigForServiceAccount("default", "workload"));
    const res = await apiRequest<{ message: string }>(sa.server, sa, "GET", "/api/v1/namespaces/default/pods");
    assert.equal(res.status, 403, "authenticated as the ServiceAccount, which RBAC gives nothing");
    assert.match(res.body.message, /system:serviceaccount:default:workload/);
  });

  it("keeps its data across an API server restart, and answers 410 Gone for versions etcd compacted away", async () => {
    const created = await cluster.request<{ metadata: { resourceVersion: string } }>("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "before-restart" }, data: { k: "v" } });
    assert.equal(created.status, 201);
    const oldVersion = created.body.metadata.resourceVersion;
    const watch = openWatch(cluster.apiUrl, cluster.adminCredential, `/api/v1/namespaces/default/configmaps?resourceVersion=${oldVersion}`);
    await cluster.request("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "seen-by-watch" } });
    await waitFor("the watch to see the new ConfigMap", 30_000, async () => (watch.events.some((e) => e.object.metadata?.name === "seen-by-watch") ? true : undefined));
    await cluster.restartApiServer();
    assert.equal(await watch.ended, 200, "the restart ends the open watch");
    assert.equal((await cluster.request("GET", "/api/v1/namespaces/default/configmaps/before-restart")).status, 200);
    const exact = () => cluster.request("GET", `/api/v1/namespaces/default/configmaps?resourceVersion=${oldVersion}&resourceVersionMatch=Exact`);
    assert.equal((await exact()).status, 200, "before compaction the old version is still served");
    await cluster.request("PUT", "/api/v1/namespaces/default/configmaps/before-restart", { metadata: { name: "before-restart" }, data: { k: "v2" } });
    const revision = await cluster.compactEtcd();
    assert.ok(revision > Number(oldVersion));
    assert.equal((await exact()).status, 410);
    const stale = openWatch(cluster.apiUrl, cluster.adminCredential, `/api/v1/namespaces/default/configmaps?resourceVersion=${oldVersion}`);
    after(() => stale.close());
    await waitFor("a 410 event on a watch from the compacted version", 30_000, async () => (stale.events.some((e) => e.type === "ERROR" && e.object.code === 410) ? true : undefined));
  });

  describe("with the kubelet stand-in", { skip: podNetworkUnavailable() ?? false }, () => {
    let kubelet: KubeletStandIn;
    before(async () => {
      const started = await startKubeletStandIn(cluster, { labels: { "topology.kubernetes.io/region": "r1", "topology.kubernetes.io/zone": "z1" } });
      if (!started.ok) throw new Error(started.reason);
      kubelet = started.kubelet;
      await cluster.request("POST", "/api/v1/namespaces", { metadata: { name: "demo" } });
      await waitFor("the default ServiceAccount in demo", WAIT_MS, async () => ((await cluster.request("GET", "/api/v1/namespaces/demo/serviceaccounts/default")).status === 200 ? true : undefined));
    });
    after(() => kubelet?.stop());

    it("runs a Deployment's pods to Ready with pod IPs, and the Service's EndpointSlice lists those IPs", async () => {
      await cluster.request("POST", "/api/v1/namespaces/demo/services", { metadata: { name: "httpbin" }, spec: { selector: { app: "httpbin" }, ports: [{ name: "http", port: 8000 }] } });
      const container = { name: "httpbin", image: "docker.io/kong/httpbin:latest", args: ["v1"], env: [{ name: "PORT", value: "8000" }], ports: [{ name: "http", containerPort: 8000 }], readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 1 } };
      const created = await cluster.request("POST", "/apis/apps/v1/namespaces/demo/deployments", {
        metadata: { name: "httpbin" }, spec: { replicas: 2, selector: { matchLabels: { app: "httpbin" } }, template: { metadata: { labels: { app: "httpbin" } }, spec: { containers: [container] } } },
      });
      assert.equal(created.status, 201, created.text);
      type PodList = { items: Array<{ metadata: { name: string; ownerReferences?: Array<{ kind: string }> }; spec: { nodeName?: string }; status: { podIP?: string; conditions?: Array<{ type: string; status: string }> } }> };
      const ready = await waitFor("2 ready httpbin pods", WAIT_MS, async () => {
        const pods = (await cluster.request<PodList>("GET", "/api/v1/namespaces/demo/pods?labelSelector=app%3Dhttpbin")).body.items;
        const ok = pods.filter((p) => p.status.podIP && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        return ok.length === 2 ? ok : undefined;
      }, 1_000);
      for (const p of ready) {
        assert.equal(p.metadata.ownerReferences?.[0].kind, "ReplicaSet", "made by the real ReplicaSet controller");
        assert.equal(p.spec.nodeName, kubelet.nodeName);
        assert.match(p.status.podIP!, /^10\.244\.0\.\d+$/);
      }
      const ips = ready.map((p) => p.status.podIP!).sort();
      type Slices = { items: Array<{ endpoints: Array<{ addresses: string[]; conditions: { ready?: boolean } }> }> };
      await waitFor("the EndpointSlice to list both pod IPs as ready", WAIT_MS, async () => {
        const slices = (await cluster.request<Slices>("GET", "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dhttpbin")).body.items;
        const listed = slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions.ready).flatMap((e) => e.addresses).sort();
        return JSON.stringify(listed) === JSON.stringify(ips) ? true : undefined;
      }, 1_000);
      const port = await kubelet.network.forwardToPod(ips[0], 8000);
      const res = await fetch(`http://127.0.0.1:${port}/anything`);
      assert.deepEqual(await res.json(), { version: "v1", path: "/anything" });

      // Deleting a pod: the stand-in stops its processes, finishes the deletion, and the ReplicaSet replaces it.
      const victim = ready[0].metadata.name;
      const netns = kubelet.pod("demo", victim)!.netns;
      assert.equal((await cluster.request("DELETE", `/api/v1/namespaces/demo/pods/${victim}`)).status, 200);
      await waitFor(`pod ${victim} to be gone`, WAIT_MS, async () => ((await cluster.request("GET", `/api/v1/namespaces/demo/pods/${victim}`)).status === 404 ? true : undefined), 1_000);
      assert.equal(kubelet.pod("demo", victim), undefined);
      assert.ok(!existsSync(`/run/netns/${netns}`), "its network namespace is removed");
      await assert.rejects(fetch(`http://127.0.0.1:${port}/anything`, { signal: AbortSignal.timeout(10_000) }), "its process no longer answers");
      await waitFor("a replacement pod to be ready", WAIT_MS, async () => {
        const pods = (await cluster.request<PodList>("GET", "/api/v1/namespaces/demo/pods?labelSelector=app%3Dhttpbin")).body.items;
        const ok = pods.filter((p) => p.metadata.name !== victim && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        return ok.length === 2 ? true : undefined;
      }, 1_000);
    });

    it("runs init containers first, resolves the downward API, mounts projected tokens and reaches the API server in-cluster", async () => {
      await cluster.request("POST", "/api/v1/namespaces/demo/serviceaccounts", { metadata: { name: "checker" } });
      const script = [
        "cat /var/lib/trellis-standin-test/work/init",
        'echo "name=$POD_NAME ns=$POD_NS ip=$POD_IP sa=$SA"',
        "test -s /var/run/secrets/tokens/istio-token && echo token-mounted",
        "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo",
        // In-cluster configuration: the default token and CA reach the API server through KUBERNETES_SERVICE_HOST.
        `${process.execPath} -e "${inClusterCheck}"`,
      ].join("; ");
      const env = [["POD_NAME", "metadata.name"], ["POD_NS", "metadata.namespace"], ["POD_IP", "status.podIP"], ["SA", "spec.serviceAccountName"]].map(([name, fieldPath]) => ({ name, valueFrom: { fieldRef: { fieldPath } } }));
      const work = { name: "work", mountPath: "/var/lib/trellis-standin-test/work" };
      const created = await cluster.request("POST", "/api/v1/namespaces/demo/pods", {
        metadata: { name: "checker" },
        spec: {
          serviceAccountName: "checker", restartPolicy: "Never",
          initContainers: [{ name: "init", image: "busybox", command: ["sh", "-c", "echo init-ran > /var/lib/trellis-standin-test/work/init"], volumeMounts: [work] }],
          containers: [
            { name: "check", image: "busybox", command: ["sh", "-c", script], env, volumeMounts: [work, { name: "istio-token", mountPath: "/var/run/secrets/tokens", readOnly: true }] },
            // The image table: trellis/proxy runs the built trellis CLI, `args` after its entrypoint.
            { name: "cli", image: "docker.io/trellis/proxy:dev", args: ["help"] },
          ],
          volumes: [{ name: "work", emptyDir: {} }, { name: "istio-token", projected: { sources: [{ serviceAccountToken: { audience: "istio-ca", expirationSeconds: 3600, path: "istio-token" } }] } }],
        },
      });
      assert.equal(created.status, 201, created.text);
      const phase = await waitFor("the checker pod to finish", WAIT_MS, async () => {
        const p = (await cluster.request<{ status: { phase?: string } }>("GET", "/api/v1/namespaces/demo/pods/checker")).body.status.phase;
        return p === "Succeeded" || p === "Failed" ? p : undefined;
      }, 1_000);
      const running = kubelet.pod("demo", "checker")!;
      const log = readFileSync(running.logPath("check"), "utf8");
      assert.equal(phase, "Succeeded", log);
      assert.match(log, /^init-ran$/m);
      assert.match(log, new RegExp(`^name=checker ns=demo ip=${running.ip.replace(/\./g, "\\.")} sa=checker$`, "m"));
      assert.match(log, /^token-mounted$/m);
      assert.match(log, /^demo$/m);
      assert.match(log, /^in-cluster: 201 system:serviceaccount:demo:checker$/m);
      assert.match(readFileSync(running.logPath("cli"), "utf8"), /^usage: trellis COMMAND/m);
      const token = readFileSync(join(running.dir, "volumes", "istio-token", "istio-token"), "utf8");
      type Review = { status: { authenticated?: boolean; user?: { username: string; extra?: Record<string, string[]> } } };
      const review = await cluster.request<Review>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", { spec: { token, audiences: ["istio-ca"] } });
      assert.equal(review.body.status.authenticated, true);
      assert.deepEqual(review.body.status.user?.extra?.["authentication.kubernetes.io/pod-name"], ["checker"], "bound to the pod");
    });

    it("follows an exec readiness probe both ways in the pod's Ready condition", async () => {
      const flagDir = "/var/lib/trellis-standin-test/flag";
      const probe = { exec: { command: ["test", "-f", `${flagDir}/ready`] }, periodSeconds: 1, failureThreshold: 1 };
      const created = await cluster.request("POST", "/api/v1/namespaces/demo/pods", {
        metadata: { name: "flapper" },
        spec: { containers: [{ name: "c", image: "busybox", command: ["sleep", "300"], readinessProbe: probe, volumeMounts: [{ name: "flag", mountPath: flagDir }] }], volumes: [{ name: "flag", emptyDir: {} }] },
      });
      assert.equal(created.status, 201, created.text);
      type Pod = { status: { phase?: string; conditions?: Array<{ type: string; status: string }> } };
      const readyIs = (want: string) => waitFor(`flapper Ready=${want}`, WAIT_MS, async () => {
        const p = (await cluster.request<Pod>("GET", "/api/v1/namespaces/demo/pods/flapper")).body;
        return p.status.phase === "Running" && p.status.conditions?.find((c) => c.type === "Ready")?.status === want ? true : undefined;
      }, 500);
      await readyIs("False");
      const flag = join(kubelet.pod("demo", "flapper")!.dir, "volumes", "flag", "ready");
      writeFileSync(flag, "");
      await readyIs("True");
      rmSync(flag);
      await readyIs("False");
      await cluster.request("DELETE", "/api/v1/namespaces/demo/pods/flapper");
    });

    it("adds a second node on the same pod network, and binds by nodeSelector", async () => {
      const second = await startKubeletStandIn(cluster, { network: kubelet.network, labels: { "topology.kubernetes.io/zone": "z2" } });
      assert.ok(second.ok);
      try {
        const spec = (zone: string) => ({ nodeSelector: { "topology.kubernetes.io/zone": zone }, containers: [{ name: "c", image: "busybox", command: ["sleep", "300"] }] });
        for (const zone of ["z1", "z2"]) assert.equal((await cluster.request("POST", "/api/v1/namespaces/demo/pods", { metadata: { name: `in-${zone}` }, spec: spec(zone) })).status, 201);
        type Pod = { spec: { nodeName?: string }; status: { phase?: string; podIP?: string } };
        const running = async (name: string) => waitFor(`${name} to run`, WAIT_MS, async () => {
          const p = (await cluster.request<Pod>("GET", `/api/v1/namespaces/demo/pods/${name}`)).body;
          return p.status.phase === "Running" && p.status.podIP ? p : undefined;
        }, 1_000);
        const [z1, z2] = [await running("in-z1"), await running("in-z2")];
        assert.equal(z1.spec.nodeName, kubelet.nodeName);
        assert.equal(z2.spec.nodeName, second.kubelet.nodeName);
        assert.notEqual(z1.status.podIP, z2.status.podIP, "one IP space across the nodes");
        for (const name of ["in-z1", "in-z2"]) await cluster.request("DELETE", `/api/v1/namespaces/demo/pods/${name}`);
      } finally {
        await second.kubelet.stop();
      }
    });

    it("calls a validating webhook served by a pod behind a Service (the API server's egress reaches pod IPs)", async () => {
      const ca = await createCa("webhook-ca");
      const serving = await issueServing(ca, "hook.demo.svc", ["hook.demo.svc"], []);
      const b64 = (x: string) => Buffer.from(x).toString("base64");
      await cluster.request("POST", "/api/v1/namespaces/demo/secrets", { metadata: { name: "hook-tls" }, data: { "tls.crt": b64(serving.certPem), "tls.key": b64(serving.keyPem) } });
      await cluster.request("POST", "/api/v1/namespaces/demo/services", { metadata: { name: "hook" }, spec: { selector: { app: "hook" }, ports: [{ port: 443, targetPort: 8443 }] } });
      const pod = {
        metadata: { name: "hook", labels: { app: "hook" } },
        spec: { containers: [{ name: "hook", image: "busybox", command: [process.execPath, "-e", webhookServer], ports: [{ containerPort: 8443 }], readinessProbe: { tcpSocket: { port: 8443 }, periodSeconds: 1 }, volumeMounts: [{ name: "tls", mountPath: "/var/run/trellis-standin-test/hook-tls", readOnly: true }] }], volumes: [{ name: "tls", secret: { secretName: "hook-tls" } }] },
      };
      assert.equal((await cluster.request("POST", "/api/v1/namespaces/demo/pods", pod)).status, 201);
      await waitFor("the hook Service's endpoint to be ready", WAIT_MS, async () => {
        const slices = (await cluster.request<{ items: Array<{ endpoints?: Array<{ conditions: { ready?: boolean } }> }> }>("GET", "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dhook")).body.items;
        return slices.some((sl) => sl.endpoints?.some((e) => e.conditions.ready)) ? true : undefined;
      }, 1_000);
      const hook = await cluster.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
        metadata: { name: "standin-test" },
        webhooks: [{
          name: "deny.standin.test", admissionReviewVersions: ["v1"], sideEffects: "None", failurePolicy: "Fail", timeoutSeconds: 10,
          clientConfig: { service: { namespace: "demo", name: "hook", port: 443, path: "/validate" }, caBundle: b64(ca.certPem) },
          rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }],
          objectSelector: { matchLabels: { "webhook-test": "yes" } },
        }],
      });
      assert.equal(hook.status, 201, hook.text);
      const create = (name: string, deny: string) => cluster.request<{ message?: string }>("POST", "/api/v1/namespaces/demo/configmaps", { metadata: { name, labels: { "webhook-test": "yes", deny } } });
      // The webhook configuration takes a moment to reach the API server's admission chain.
      const refused = await waitFor("the webhook to refuse", 60_000, async () => {
        const r = await create(`denied-${Date.now()}`, "yes");
        return r.status === 201 ? undefined : r;
      }, 1_000);
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.body.message ?? "", /denied the request: refused by the stand-in test's webhook/);
      assert.equal((await create("allowed", "no")).status, 201);
    });
  });
});

// A validating webhook run in a pod: refuses objects labelled deny=yes, with a message.
const webhookServer = [
  "const fs=require('fs'),https=require('https');const d='/var/run/trellis-standin-test/hook-tls/';",
  "https.createServer({cert:fs.readFileSync(d+'tls.crt'),key:fs.readFileSync(d+'tls.key')},(req,res)=>{let b='';req.on('data',(c)=>b+=c);req.on('end',()=>{",
  "const review=JSON.parse(b);const deny=(review.request.object.metadata.labels||{}).deny==='yes';",
  "res.setHeader('content-type','application/json');res.end(JSON.stringify({apiVersion:'admission.k8s.io/v1',kind:'AdmissionReview',response:{uid:review.request.uid,allowed:!deny,",
  "status:deny?{code:403,message:'refused by the stand-in test\\'s webhook'}:undefined}}))})}).listen(8443,'0.0.0.0')",
].join("");

// Run inside the pod: asks the API server who it is (SelfSubjectReview) with the pod's default token and CA.
const inClusterCheck = [
  "const fs=require('fs'),https=require('https');const d='/var/run/secrets/kubernetes.io/serviceaccount/';",
  "const r=https.request({host:process.env.KUBERNETES_SERVICE_HOST,port:process.env.KUBERNETES_SERVICE_PORT,method:'POST',path:'/apis/authentication.k8s.io/v1/selfsubjectreviews',",
  "ca:fs.readFileSync(d+'ca.crt'),headers:{authorization:'Bearer '+fs.readFileSync(d+'token','utf8'),'content-type':'application/json'}},",
  "(res)=>{let b='';res.on('data',(c)=>b+=c);res.on('end',()=>console.log('in-cluster: '+res.statusCode+' '+JSON.parse(b).status.userInfo.username))});",
  "r.end(JSON.stringify({apiVersion:'authentication.k8s.io/v1',kind:'SelfSubjectReview'}))",
].join("");
