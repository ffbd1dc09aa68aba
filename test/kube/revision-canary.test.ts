// Istio's canary upgrade with two revisions side by side, installed with `trellis install` (the default revision,
// then --revision canary): both control planes Ready, each with its own injector registration, and the real API
// server sends a pod to the injector of its namespace's revision only (istio-injection=enabled -> istiod,
// istio.io/rev=canary -> istiod-canary; a pod label istio.io/rev picks the revision in an unlabelled namespace;
// sidecar.istio.io/inject=false opts out); moving a namespace by relabelling moves its pods to the other revision.
// Which control plane injected is read from the injected pod: its sidecar's discovery address is istiod[-REV], so each
// revision's proxies connect to their own control plane only. Each revision elects its own leader, which writes
// its injector registration's caBundle.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { startKubeletStandIn, type KubeletStandIn } from "../fixtures/kube/kubelet/kubelet-standin.js";
import { podNetworkUnavailable } from "../fixtures/kube/kubelet/pod-network.js";
import { waitForDeployment } from "../fixtures/kube/control-plane-pods.js";
import { runTrellis } from "../fixtures/trellis-cli.js";
import { until } from "../fixtures/until.js";

const bins = await kubeBinaries();
const skip = !bins.ok ? bins.reason : podNetworkUnavailable() ?? false;
const NS = "istio-system";
const LIMIT_MS = 240_000;
// The injected sidecar's discovery address.
const STABLE = /istiod\.istio-system\.svc:15012/;
const CANARY = /istiod-canary\.istio-system\.svc:15012/;

describe("two revisions side by side (canary upgrade)", { skip }, () => {
  let cluster: KubeCluster;
  let kubelet: KubeletStandIn;

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const standIn = await startKubeletStandIn(cluster);
    if (!standIn.ok) throw new Error(standIn.reason);
    kubelet = standIn.kubelet;
  });
  after(async () => {
    await kubelet?.stop();
    await cluster?.stop();
  });

  const namespace = async (name: string, labels: Record<string, string>) => {
    const res = await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
    assert.equal(res.status, 201, res.text);
    await until(`ServiceAccount ${name}/default`, async () => (await cluster.request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200, LIMIT_MS);
  };
  /** The API server's answer to creating (dry run) a pod: which injector it called shows in the text. */
  const createPod = async (ns: string, labels: Record<string, string> = {}) => {
    const res = await cluster.request("POST", `/api/v1/namespaces/${ns}/pods?dryRun=All`, {
      apiVersion: "v1", kind: "Pod", metadata: { name: "app", labels: { app: "app", ...labels } },
      spec: { containers: [{ name: "app", image: "httpbin" }] },
    });
    return { status: res.status, text: res.text };
  };
  const sentTo = async (what: string, want: RegExp, not: RegExp, ns: string, labels?: Record<string, string>) => {
    let last = "";
    // The API server picks up webhook configurations and labels shortly after they change: poll until it agrees.
    await until(what, async () => {
      const r = await createPod(ns, labels);
      last = `${r.status} ${r.text}`;
      return r.status === 201 && /sidecar\.istio\.io\/status/.test(r.text) && want.test(r.text) && !not.test(r.text);
    }, LIMIT_MS).catch((err: Error) => { throw new Error(`${err.message}; last answer: ${last}`); });
  };

  it("trellis install puts the default revision and the canary side by side, both Ready", async () => {
    const stable = await runTrellis(["install", "--kubeconfig", cluster.adminKubeconfig, "--timeout", "4m"]);
    assert.equal(stable.code, 0, stable.stdout + stable.stderr);
    assert.match(stable.stdout, /Deployment istio-system\/istiod is Ready/);
    const canary = await runTrellis(["install", "--kubeconfig", cluster.adminKubeconfig, "--revision", "canary", "--skip-crds", "--timeout", "4m"]);
    assert.equal(canary.code, 0, canary.stdout + canary.stderr);
    assert.match(canary.stdout, /Deployment istio-system\/istiod-canary is Ready/);
    await waitForDeployment(cluster, kubelet, NS, "istiod", LIMIT_MS);
    const hooks = await cluster.request<{ items: Array<{ metadata: { name: string; labels: Record<string, string> } }> }>("GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations");
    assert.deepEqual(hooks.body.items.map((h) => `${h.metadata.name}:${h.metadata.labels["istio.io/rev"]}`).sort(), ["istio-sidecar-injector-canary:canary", "istio-sidecar-injector:default"]);
    // Each revision's own leader (its own Lease) writes its injector's caBundle.
    for (const name of ["istio-sidecar-injector", "istio-sidecar-injector-canary"]) {
      await until(`${name}'s caBundle, written by its revision's leader`, async () => {
        const hook = await cluster.request<{ webhooks: Array<{ clientConfig: { caBundle?: string } }> }>("GET", `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`);
        return hook.body.webhooks.every((w) => !!w.clientConfig.caBundle);
      }, LIMIT_MS);
    }
    for (const lease of ["trellis-control-leader", "trellis-control-leader-canary"]) {
      assert.equal((await cluster.request("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${lease}`)).status, 200, `Lease ${lease}`);
    }
  });

  it("trellis install refuses bad values naming the field, and changes nothing", async () => {
    const r = await runTrellis(["install", "--kubeconfig", cluster.adminKubeconfig, "--set", "replicas=two"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /replicas: must be integer, got string "two"/);
  });

  it("trellis install again upgrades in place and prunes what the new rendering lacks, in its own revision only", async () => {
    const canary = ["install", "--kubeconfig", cluster.adminKubeconfig, "--revision", "canary", "--skip-crds", "--timeout", "4m"];
    const pdb = (name: string) => cluster.request("GET", `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/${name}`);
    const scaled = await runTrellis([...canary, "--set", "replicas=2"]);
    assert.equal(scaled.code, 0, scaled.stdout + scaled.stderr);
    assert.equal((await pdb("istiod-canary")).status, 200, "two replicas get a PodDisruptionBudget");
    const back = await runTrellis(canary);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.match(back.stdout, /PodDisruptionBudget istio-system\/istiod-canary pruned/);
    assert.equal((await pdb("istiod-canary")).status, 404);
    assert.doesNotMatch(back.stdout, /istiod pruned|istio-sidecar-injector pruned|trellis-control pruned/, "the default revision's objects are not the canary's to prune");
    const stable = await cluster.request<{ status: { readyReplicas?: number } }>("GET", `/apis/apps/v1/namespaces/${NS}/deployments/istiod`);
    assert.equal(stable.body.status.readyReplicas, 1, "the default revision keeps running");
  });

  it("each namespace's pods go to its revision's injector only", async () => {
    await namespace("app-stable", { "istio-injection": "enabled" });
    await namespace("app-canary", { "istio.io/rev": "canary" });
    await namespace("plain", {});
    await sentTo("a pod in an istio-injection=enabled namespace to go to istiod", STABLE, CANARY, "app-stable");
    await sentTo("a pod in an istio.io/rev=canary namespace to go to istiod-canary", CANARY, STABLE, "app-canary");
    await sentTo("a pod labelled istio.io/rev=canary in a plain namespace to go to istiod-canary", CANARY, STABLE, "plain", { "istio.io/rev": "canary" });
    const plain = await createPod("plain");
    assert.equal(plain.status, 201, plain.text);
    assert.doesNotMatch(plain.text, /sidecar\.istio\.io\/status/, "no injector is called for a plain namespace");
    const optOut = await createPod("app-canary", { "sidecar.istio.io/inject": "false" });
    assert.equal(optOut.status, 201, optOut.text);
    assert.doesNotMatch(optOut.text, /sidecar\.istio\.io\/status/, "sidecar.istio.io/inject=false opts out");
  });

  it("relabelling a namespace moves its pods from one revision to the other, and back", async () => {
    const relabel = async (labels: Record<string, string | null>) => {
      const res = await cluster.request("PATCH", "/api/v1/namespaces/app-stable", { metadata: { labels } }, "application/merge-patch+json");
      assert.equal(res.status, 200, res.text);
    };
    await relabel({ "istio-injection": null, "istio.io/rev": "canary" });
    await sentTo("app-stable's pods to go to istiod-canary after the move", CANARY, STABLE, "app-stable");
    await relabel({ "istio.io/rev": "default" });
    await sentTo("app-stable's pods to go back to istiod (istio.io/rev=default)", STABLE, CANARY, "app-stable");
  });
});
