// The kubelet stand-in's pure parts, without a cluster: image names to entrypoints, Kubernetes' command/args rules
// with $(VAR) expansion, the downward API, and a pod's resolv.conf from its DNS policy, including the errors that name
// an unsupported field.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { containerArgv } from "../fixtures/kube/kubelet/container-process.js";
import { entrypointFor, imageName } from "../fixtures/kube/kubelet/images.js";
import { podResolvConf } from "../fixtures/kube/kubelet/pod-dns.js";
import { containerEnv } from "../fixtures/kube/kubelet/pod-env.js";
import type { Pod } from "../fixtures/kube/kubelet/pod-types.js";

const pod: Pod = {
  metadata: { name: "web-0", namespace: "shop", uid: "u-1", labels: { app: "web" } },
  spec: { serviceAccountName: "web", nodeName: "n1", containers: [] },
};

describe("the kubelet stand-in's spec handling", () => {
  it("reduces image references to names", () => {
    for (const [image, name] of [
      ["docker.io/istio/proxyv2:1.24.0", "istio/proxyv2"], ["localhost:5000/httpbin", "httpbin"], ["busybox", "busybox"],
      ["kong/httpbin@sha256:abc", "kong/httpbin"], ["registry:5000/bookinfo/reviews-v2:dev", "bookinfo/reviews-v2"],
    ]) assert.equal(imageName(image), name, image);
    assert.equal(entrypointFor("nginx:1.27"), undefined);
    assert.deepEqual(entrypointFor("istio/examples-bookinfo-reviews-v3:1.20")?.slice(-2), ["--version", "v3"]);
    assert.equal(entrypointFor("istio/examples-bookinfo-ratings-v1:1.20")?.length, 2, "only reviews takes a version");
  });

  it("runs command instead of the entrypoint, args after either, with $(VAR) expanded", () => {
    const env = { PORT: "8000" };
    assert.deepEqual(containerArgv({ name: "c", image: "busybox", command: ["sh", "-c"], args: ["echo $(PORT) $(NOPE)"] }, env, "c"), ["sh", "-c", "echo 8000 $(NOPE)"]);
    assert.deepEqual(containerArgv({ name: "c", image: "httpbin", args: ["v2"] }, env, "c").slice(-1), ["v2"]);
    assert.throws(() => containerArgv({ name: "c", image: "nginx" }, env, "spec.containers[0]"), /spec\.containers\[0\]\.image: "nginx" has no entry/);
    assert.throws(() => containerArgv({ name: "c", image: "busybox" }, env, "spec.containers[1]"), /spec\.containers\[1\]: image "busybox" has no entrypoint/);
  });

  it("resolves the downward API and refuses what it does not support by field path", () => {
    const env = containerEnv(pod, {
      name: "c", image: "busybox",
      env: [
        { name: "NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }, { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "SA", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } }, { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: "URL", value: "http://$(IP):80" },
      ],
    }, "10.244.0.9", "spec.containers[0]");
    assert.deepEqual([env.NAME, env.IP, env.SA, env.APP, env.URL], ["web-0", "10.244.0.9", "web", "web", "http://10.244.0.9:80"]);
    assert.equal(env.KUBERNETES_SERVICE_HOST, "10.244.0.1");
    assert.throws(() => containerEnv(pod, { name: "c", image: "busybox", env: [{ name: "X", valueFrom: { fieldRef: { fieldPath: "spec.hostname" } } }] }, "10.244.0.9", "spec.containers[0]"),
      /spec\.containers\[0\]\.env\[0\]\.valueFrom\.fieldRef\.fieldPath: "spec\.hostname" is not supported/);
    assert.throws(() => containerEnv(pod, { name: "c", image: "busybox", env: [{ name: "X", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] }, "10.244.0.9", "spec.containers[0]"),
      /spec\.containers\[0\]\.env\[0\]\.valueFrom: only fieldRef is supported by the kubelet stand-in \(got secretKeyRef\)/);
  });

  it("writes resolv.conf from dnsPolicy and dnsConfig as the kubelet does", () => {
    const dns = { nameserver: "10.244.0.1", domain: "cluster.local" };
    const withDns = (spec: Partial<Pod["spec"]>): Pod => ({ ...pod, spec: { ...pod.spec, ...spec } });
    assert.equal(podResolvConf(pod, dns), "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.244.0.1\noptions ndots:5\n");
    assert.equal(podResolvConf(withDns({ dnsPolicy: "Default" }), dns), undefined, "Default keeps the node's file");
    assert.equal(podResolvConf(pod, undefined), undefined, "no cluster DNS: the node's file");
    assert.equal(podResolvConf(withDns({ dnsConfig: { searches: ["corp.example"], options: [{ name: "ndots", value: "2" }, { name: "edns0" }] } }), dns),
      "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.244.0.1\noptions ndots:2 edns0\n");
    assert.equal(podResolvConf(withDns({ dnsPolicy: "None", dnsConfig: { nameservers: ["10.0.0.53"] } }), dns), "nameserver 10.0.0.53\n");
    assert.throws(() => podResolvConf(withDns({ dnsPolicy: "None" }), dns), /spec\.dnsConfig\.nameservers: dnsPolicy None needs at least one nameserver/);
    assert.throws(() => podResolvConf(withDns({ dnsPolicy: "ClusterFirstish" }), dns), /spec\.dnsPolicy: "ClusterFirstish" is not a DNS policy/);
    assert.throws(() => podResolvConf(withDns({ dnsConfig: { nameservers: ["1.1.1.1", "2.2.2.2", "3.3.3.3"] } }), dns), /at most 3 in all \(got 4\)/);
  });
});
