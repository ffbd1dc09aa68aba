// Table tests for injection: which pods are injected, the injected pod field by field (as Istio's template makes it),
// every honoured annotation's effect, refusals that name the annotation or port, and the webhook's JSONPatch giving
// exactly the pod injectPod returns.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultSettings, applyInjectValues, applyMeshConfig } from "./inject-settings.js";
import { injectPod, type InjectOutcome, type PodLike, workloadName } from "./inject-pod.js";
import { admitInjection, podPatch } from "./inject-admission.js";

type C = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const settings = defaultSettings();
const pod = (o: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Record<string, unknown> } = {}): PodLike => ({
  apiVersion: "v1", kind: "Pod",
  metadata: { name: "reviews-v1-abc", namespace: "default", labels: { app: "reviews", version: "v1", ...o.labels }, ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: { serviceAccountName: "bookinfo-reviews", containers: [{ name: "reviews", image: "bookinfo/reviews", ports: [{ name: "http", containerPort: 9080 }] }], ...o.spec },
});
function injected(p: PodLike, s = settings): { pod: PodLike; init: C[]; containers: C[]; proxy: C; env: Record<string, unknown> } {
  const out = injectPod(p, s);
  assert.equal(out.action, "injected", JSON.stringify(out));
  const pod = (out as Extract<InjectOutcome, { action: "injected" }>).pod;
  const init = pod.spec!.initContainers as C[];
  const containers = pod.spec!.containers as C[];
  const proxy = [...init, ...containers].find((c) => c.name === "istio-proxy")!;
  const env = Object.fromEntries((proxy.env as C[]).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
  return { pod, init, containers, proxy, env };
}
const refused = (p: PodLike) => {
  const out = injectPod(p, settings);
  assert.equal(out.action, "refused", JSON.stringify(out).slice(0, 300));
  return (out as { message: string }).message;
};

test("the injected pod, field by field: istio-init, istio-proxy after the app, volumes, labels, annotations", () => {
  const { pod: p, init, containers, proxy, env } = injected(pod());
  assert.deepEqual(init.map((c) => c.name), ["istio-init"]);
  assert.deepEqual(containers.map((c) => c.name), ["reviews", "istio-proxy"]);
  assert.deepEqual(init[0].args, ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"]);
  assert.deepEqual(init[0].securityContext.capabilities, { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] });
  assert.equal(init[0].securityContext.runAsUser, 0);
  assert.deepEqual(proxy.args, ["proxy", "sidecar", "--drain-timeout", "5"]);
  assert.equal(proxy.image, "docker.io/trellis/proxy:dev");
  assert.deepEqual({ u: proxy.securityContext.runAsUser, g: proxy.securityContext.runAsGroup, nonRoot: proxy.securityContext.runAsNonRoot, ro: proxy.securityContext.readOnlyRootFilesystem }, { u: 1337, g: 1337, nonRoot: true, ro: true });
  assert.deepEqual(proxy.readinessProbe.httpGet, { path: "/healthz/ready", port: 15021, scheme: "HTTP" });
  assert.deepEqual(proxy.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2000m", memory: "1024Mi" } });
  assert.equal(proxy.restartPolicy, undefined);
  assert.equal(proxy.lifecycle, undefined);
  assert.deepEqual(proxy.volumeMounts.map((m: C) => `${m.name}:${m.mountPath}`), ["istio-envoy:/etc/istio/proxy", "istio-podinfo:/etc/istio/pod", "istio-token:/var/run/secrets/tokens", "istiod-ca-cert:/var/run/secrets/istio"]);
  assert.equal(env.CA_ADDR, "istiod.istio-system.svc:15012");
  assert.deepEqual(JSON.parse(env.PROXY_CONFIG as string), { discoveryAddress: "istiod.istio-system.svc:15012", terminationDrainDuration: "5s", holdApplicationUntilProxyStarts: false });
  assert.equal(env.POD_NAME, "metadata.name");
  assert.equal(env.INSTANCE_IP, "status.podIP");
  assert.equal(env.SERVICE_ACCOUNT, "spec.serviceAccountName");
  assert.equal(env.ISTIO_META_APP_CONTAINERS, "reviews");
  assert.equal(env.ISTIO_META_WORKLOAD_NAME, "reviews-v1-abc");
  assert.deepEqual(JSON.parse(env.ISTIO_META_POD_PORTS as string), [{ name: "http", containerPort: 9080 }]);
  const volumes = p.spec!.volumes as C[];
  assert.deepEqual(volumes.map((v) => v.name), ["istio-envoy", "istio-podinfo", "istio-token", "istiod-ca-cert"]);
  assert.deepEqual(volumes[1].projected.sources[0].downwardAPI.items.map((i: C) => `${i.path}:${i.fieldRef.fieldPath}`), ["labels:metadata.labels", "annotations:metadata.annotations"]);
  assert.deepEqual(volumes[2].projected.sources[0].serviceAccountToken, { audience: "istio-ca", expirationSeconds: 43200, path: "istio-token" });
  assert.deepEqual(volumes[3].configMap, { name: "istio-ca-root-cert" });
  assert.deepEqual(p.metadata!.labels, { app: "reviews", version: "v1", "service.istio.io/canonical-name": "reviews", "service.istio.io/canonical-revision": "v1", "security.istio.io/tlsMode": "istio" });
  const a = p.metadata!.annotations!;
  assert.deepEqual(JSON.parse(a["sidecar.istio.io/status"]), { initContainers: ["istio-init"], containers: ["istio-proxy"], volumes: ["istio-envoy", "istio-podinfo", "istio-token", "istiod-ca-cert"], imagePullSecrets: null, revision: "default" });
  assert.deepEqual([a["prometheus.io/scrape"], a["prometheus.io/port"], a["prometheus.io/path"]], ["true", "15020", "/stats/prometheus"]);
  assert.equal(a["kubectl.kubernetes.io/default-container"], "reviews");
});

test("who is injected: label wins over annotation, hostNetwork and injected pods are left alone", () => {
  const cases: Array<[string, PodLike, string]> = [
    ["plain pod", pod(), "injected"],
    ["annotation false", pod({ annotations: { "sidecar.istio.io/inject": "false" } }), "skipped"],
    ["label true wins over annotation false", pod({ labels: { "sidecar.istio.io/inject": "true" }, annotations: { "sidecar.istio.io/inject": "false" } }), "injected"],
    ["label false wins over annotation true", pod({ labels: { "sidecar.istio.io/inject": "false" }, annotations: { "sidecar.istio.io/inject": "true" } }), "skipped"],
    ["hostNetwork", pod({ spec: { hostNetwork: true } }), "skipped"],
    ["already injected", pod({ annotations: { "sidecar.istio.io/status": "{}" } }), "skipped"],
  ];
  for (const [name, p, want] of cases) assert.equal(injectPod(p, settings).action, want, name);
  assert.match((injectPod(pod({ spec: { hostNetwork: true } }), settings) as { reason: string }).reason, /hostNetwork/);
});

test("annotations: traffic ranges and ports reach istio-iptables' flags", () => {
  const { init } = injected(pod({ annotations: {
    "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8,172.16.0.0/12",
    "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.96.0.1/32",
    "traffic.sidecar.istio.io/excludeOutboundPorts": "3306,5432",
    "traffic.sidecar.istio.io/includeInboundPorts": "9080",
    "traffic.sidecar.istio.io/excludeInboundPorts": "9090",
  } }));
  const args = init[0].args as string[];
  const flag = (f: string) => args[args.indexOf(f) + 1];
  assert.equal(flag("-i"), "10.0.0.0/8,172.16.0.0/12");
  assert.equal(flag("-x"), "10.96.0.1/32");
  assert.equal(flag("-o"), "3306,5432");
  assert.equal(flag("-b"), "9080");
  assert.equal(flag("-d"), "15090,15021,15020,9090");
});

test("annotations: proxy resources, proxy.istio.io/config, native sidecars and holdApplicationUntilProxyStarts", () => {
  const sized = injected(pod({ annotations: { "sidecar.istio.io/proxyCPU": "50m", "sidecar.istio.io/proxyMemory": "64Mi", "sidecar.istio.io/proxyCPULimit": "1", "sidecar.istio.io/proxyMemoryLimit": "256Mi" } }));
  assert.deepEqual(sized.proxy.resources, { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "1", memory: "256Mi" } });
  const configured = injected(pod({ annotations: { "proxy.istio.io/config": "discoveryAddress: 10.244.0.1:15012\nholdApplicationUntilProxyStarts: true\nterminationDrainDuration: 9s\nproxyMetadata:\n  FOO: bar\n" } }));
  assert.equal(JSON.parse(configured.env.PROXY_CONFIG as string).discoveryAddress, "10.244.0.1:15012");
  assert.equal(configured.env.CA_ADDR, "10.244.0.1:15012");
  assert.equal(configured.env.FOO, "bar");
  assert.deepEqual(configured.proxy.args, ["proxy", "sidecar", "--drain-timeout", "9"]);
  // Held: the sidecar comes first and its postStart hook waits for readiness.
  assert.deepEqual(configured.containers.map((c) => c.name), ["istio-proxy", "reviews"]);
  assert.deepEqual(configured.proxy.lifecycle.postStart.exec.command, ["trellis", "proxy", "wait"]);
  const native = injected(pod({ annotations: { "sidecar.istio.io/nativeSidecar": "true" } }));
  assert.deepEqual(native.init.map((c) => c.name), ["istio-init", "istio-proxy"]);
  assert.equal(native.proxy.restartPolicy, "Always");
  assert.deepEqual(native.containers.map((c) => c.name), ["reviews"]);
  assert.deepEqual(JSON.parse(native.pod.metadata!.annotations!["sidecar.istio.io/status"]).initContainers, ["istio-init", "istio-proxy"]);
  // The mesh-wide option, and the annotation turning it off for one pod.
  const values = applyInjectValues(settings, "sidecarInjectorWebhook:\n  nativeSidecar: true\n", "values");
  assert.equal(injected(pod(), values).proxy.restartPolicy, "Always");
  assert.equal(injected(pod({ annotations: { "sidecar.istio.io/nativeSidecar": "false" } }), values).proxy.restartPolicy, undefined);
});

test("probes: httpGet and tcpSocket go to 15021 /app-health, the originals into ISTIO_KUBE_APP_PROBERS", () => {
  const { containers, env } = injected(pod({ spec: { containers: [{
    name: "reviews", image: "bookinfo/reviews", ports: [{ name: "http", containerPort: 9080 }],
    readinessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 3 },
    livenessProbe: { tcpSocket: { port: 9080 }, timeoutSeconds: 2 },
    startupProbe: { exec: { command: ["true"] } },
  }] } }));
  const app = containers[0];
  assert.deepEqual(app.readinessProbe, { periodSeconds: 3, httpGet: { path: "/app-health/reviews/readyz", port: 15021, scheme: "HTTP" } });
  assert.deepEqual(app.livenessProbe, { timeoutSeconds: 2, httpGet: { path: "/app-health/reviews/livez", port: 15021, scheme: "HTTP" } });
  assert.deepEqual(app.startupProbe, { exec: { command: ["true"] } });
  assert.deepEqual(JSON.parse(env.ISTIO_KUBE_APP_PROBERS as string), {
    "/app-health/reviews/readyz": { httpGet: { path: "/health", port: 9080, scheme: "HTTP" }, timeoutSeconds: 1 },
    "/app-health/reviews/livez": { tcpSocket: { port: 9080 }, timeoutSeconds: 2 },
  });
});

test("refusals name the annotation or the port", () => {
  const table: Array<[Record<string, string> | undefined, Record<string, unknown> | undefined, RegExp]> = [
    [{ "traffic.sidecar.istio.io/includeInboundPorts": "9080", "traffic.sidecar.istio.io/excludeInboundPorts": "9080" }, undefined, /includeInboundPorts and traffic.sidecar.istio.io\/excludeInboundPorts both name 9080/],
    [{ "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8", "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8" }, undefined, /includeOutboundIPRanges and .*excludeOutboundIPRanges both name 10.0.0.0\/8/],
    [{ "traffic.sidecar.istio.io/excludeOutboundPorts": "http" }, undefined, /excludeOutboundPorts: "http" is not a port/],
    [{ "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0" }, undefined, /includeOutboundIPRanges: "10.0.0.0" is not an IPv4 CIDR/],
    [{ "sidecar.istio.io/proxyCPU": "lots" }, undefined, /sidecar.istio.io\/proxyCPU: "lots" is not a Kubernetes quantity/],
    [{ "sidecar.istio.io/nativeSidecar": "maybe" }, undefined, /nativeSidecar: "maybe" must be "true" or "false"/],
    [{ "sidecar.istio.io/interceptionMode": "TPROXY" }, undefined, /interceptionMode: "TPROXY" is not supported/],
    [{ "proxy.istio.io/config": "concurrency: 2" }, undefined, /proxy.istio.io\/config.concurrency is not a ProxyConfig field/],
    [{ "proxy.istio.io/config": "discoveryAddress: nowhere" }, undefined, /discoveryAddress "nowhere" must be HOST:PORT/],
    [{ "sidecar.istio.io/userVolume": "[]" }, undefined, /annotation sidecar.istio.io\/userVolume is not one Trellis' injector acts on/],
    [undefined, { containers: [{ name: "app", image: "x", ports: [{ containerPort: 15021 }] }] }, /container app uses port 15021, which the sidecar needs/],
    [undefined, { containers: [{ name: "app", image: "x", ports: [{ containerPort: 15090 }] }] }, /uses port 15090/],
    [undefined, { containers: [{ name: "app", image: "x", readinessProbe: { httpGet: { port: "web" } } }] }, /readinessProbe.httpGet.port names port "web"/],
  ];
  for (const [annotations, spec, want] of table) assert.match(refused(pod({ annotations, spec })), want);
});

test("settings: Helm values and MeshConfig set the image, revision, resources and discovery address", () => {
  let s = applyInjectValues(defaultSettings(), "revision: canary\nglobal:\n  hub: registry.example\n  tag: '1.2'\n  proxy:\n    image: proxyv2\n    resources:\n      requests:\n        cpu: 10m\n", "values");
  assert.equal(s.image, "registry.example/proxyv2:1.2");
  assert.equal(s.proxy.discoveryAddress, "istiod-canary.istio-system.svc:15012");
  s = applyMeshConfig(s, "mesh: |\n  defaultConfig:\n    discoveryAddress: cp.example:15012\n", "mesh");
  const { proxy, pod: p } = injected(pod(), s);
  assert.equal(proxy.image, "registry.example/proxyv2:1.2");
  assert.equal(proxy.resources.requests.cpu, "10m");
  assert.equal(JSON.parse(p.metadata!.annotations!["sidecar.istio.io/status"]).revision, "canary");
  assert.throws(() => applyMeshConfig(defaultSettings(), "defaultConfig:\n  tracing: {}\n", "mesh"), /defaultConfig.tracing is not a ProxyConfig field/);
  assert.throws(() => applyInjectValues(defaultSettings(), "data:\n  config: 'policy: enabled'\n", "cm"), /templates are not read/);
});

/** RFC 6902 add, enough for the patch the webhook sends (paths two levels deep). */
function applyAdds(doc: PodLike, ops: Array<{ op: string; path: string; value: unknown }>): PodLike {
  const out = structuredClone(doc) as Record<string, Record<string, unknown>>;
  for (const op of ops) {
    const [, section, key] = op.path.split("/");
    out[section] ??= {};
    out[section][key] = op.value;
  }
  return out as PodLike;
}

test("the webhook's JSONPatch turns the pod into exactly what injectPod returns", () => {
  const original = pod({ annotations: { "sidecar.istio.io/nativeSidecar": "true" } });
  const res = admitInjection({ uid: "u1", kind: { group: "", version: "v1", kind: "Pod" }, operation: "CREATE", namespace: "default", object: original }, settings);
  assert.equal(res.allowed, true);
  assert.equal(res.patchType, "JSONPatch");
  const ops = JSON.parse(Buffer.from(res.patch!, "base64").toString()) as Array<{ op: string; path: string; value: unknown }>;
  const want = injectPod(original, settings) as { pod: PodLike };
  assert.deepEqual(applyAdds(original, ops), want.pod);
  assert.deepEqual(podPatch(want.pod, want.pod), []);
  const refusal = admitInjection({ uid: "u2", kind: { group: "", version: "v1", kind: "Pod" }, object: pod({ annotations: { "sidecar.istio.io/proxyCPU": "x" } }) }, settings);
  assert.equal(refusal.allowed, false);
  assert.match(refusal.status!.message, /^sidecar injection refused pod default\/reviews-v1-abc: annotation sidecar.istio.io\/proxyCPU/);
  const skipped = admitInjection({ uid: "u3", kind: { group: "", version: "v1", kind: "Pod" }, object: pod({ spec: { hostNetwork: true } }) }, settings);
  assert.deepEqual(skipped, { uid: "u3", allowed: true });
});

test("the workload name: a Deployment's (ReplicaSet less its hash), another owner's, else the pod's", () => {
  const owned = (kind: string, name: string, labels: Record<string, string> = {}) => ({ metadata: { generateName: `${name}-`, labels, ownerReferences: [{ kind, name, controller: true }] } });
  assert.equal(workloadName(owned("ReplicaSet", "reviews-v1-7d9f8c6b5", { "pod-template-hash": "7d9f8c6b5" })), "reviews-v1");
  assert.equal(workloadName(owned("Job", "migrate")), "migrate");
  assert.equal(workloadName({ metadata: { name: "solo" } }), "solo");
});
