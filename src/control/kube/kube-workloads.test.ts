// Kubernetes objects -> workloads, as istiod's registry reads them: protocols from port names and appProtocol,
// EndpointSlice addresses with target ports, pod labels/service account/readiness, node locality, ExternalName,
// discoverySelectors; and a proxy matched to its pod, its claims checked against the pod.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "./client.js";
import { endpointlessEntries, externalNameEntries, kubeWorkloads, type KubeView } from "./kube-workloads.js";
import { portProtocol } from "../../api/port-protocol.js";
import { matchesSelector, selectorProblems } from "./label-selector.js";
import { proxyWorkload } from "./proxy-pod.js";
import { parseMeshConfig } from "../mesh-config.js";

const svc = (name: string, ns: string, spec: Record<string, unknown>): KubeObject => ({ metadata: { name, namespace: ns }, spec });
const pod = (name: string, ns: string, ip: string, extra: { labels?: Record<string, string>; sa?: string; node?: string; sidecar?: boolean; ready?: boolean; annotations?: Record<string, string> } = {}): KubeObject => ({
  metadata: { name, namespace: ns, labels: extra.labels ?? {}, annotations: extra.annotations },
  spec: { serviceAccountName: extra.sa, nodeName: extra.node, containers: [{ name: "app", ports: [{ name: "web", containerPort: 9080 }] }, ...(extra.sidecar ? [{ name: "istio-proxy" }] : [])] },
  status: { podIP: ip, phase: "Running", conditions: [{ type: "Ready", status: extra.ready === false ? "False" : "True" }] },
});
const slice = (svcName: string, ns: string, ports: Array<{ name?: string; port: number }>, endpoints: Array<{ ip: string; pod?: string; ready?: boolean; node?: string }>): KubeObject => ({
  metadata: { name: `${svcName}-abc`, namespace: ns, labels: { "kubernetes.io/service-name": svcName } },
  addressType: "IPv4", ports: ports.map((p) => ({ ...p, protocol: "TCP" })),
  endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true }, nodeName: e.node, ...(e.pod ? { targetRef: { kind: "Pod", name: e.pod, namespace: ns } } : {}) })),
});

test("protocol from appProtocol, then the port name's prefix", () => {
  const cases: Array<[Record<string, string>, string | undefined]> = [
    [{ name: "http" }, "HTTP"], [{ name: "http-web" }, "HTTP"], [{ name: "HTTP2-x" }, "HTTP2"], [{ name: "grpc-web" }, "GRPC-WEB"],
    [{ name: "grpc-api" }, "GRPC"], [{ name: "tcp-db" }, "TCP"], [{ name: "https" }, "HTTPS"], [{ name: "web" }, undefined],
    [{ name: "tcp", appProtocol: "http" }, "HTTP"], [{ name: "x", appProtocol: "kubernetes.io/h2c" }, "HTTP2"], [{ appProtocol: "grpc" }, "GRPC"],
  ];
  for (const [p, want] of cases) assert.equal(portProtocol({ port: 80, ...p }), want, JSON.stringify(p));
});

function view(parts: Partial<KubeView>): KubeView {
  return { services: [], slices: [], pods: new Map(), nodes: new Map(), selected: () => true, mtlsPods: new Set(), ...parts };
}

test("EndpointSlice addresses become workloads with pod IPs, target ports, pod labels, readiness and node locality", () => {
  const p1 = pod("reviews-1", "bookinfo", "10.1.0.5", { labels: { app: "reviews", version: "v1" }, sa: "bookinfo-reviews", node: "n1", sidecar: true });
  const p2 = pod("reviews-2", "bookinfo", "10.1.0.6", { labels: { app: "reviews", version: "v2" }, node: "n2" });
  const workloads = kubeWorkloads(view({
    services: [svc("reviews", "bookinfo", { ports: [{ name: "http", port: 9080, targetPort: "web" }, { name: "udp-x", port: 53, protocol: "UDP" }] })],
    slices: [slice("reviews", "bookinfo", [{ name: "http", port: 9090 }], [{ ip: "10.1.0.5", pod: "reviews-1" }, { ip: "10.1.0.6", pod: "reviews-2", ready: false }])],
    pods: new Map([["bookinfo/reviews-1", p1], ["bookinfo/reviews-2", p2]]),
    nodes: new Map([["n1", { metadata: { name: "n1", labels: { "topology.kubernetes.io/region": "eu", "topology.kubernetes.io/zone": "eu-a" } } }]]),
    mtlsPods: new Set(["bookinfo/reviews-1"]),
  }));
  assert.equal(workloads.length, 2);
  const [w1, w2] = workloads;
  assert.deepEqual({ service: w1.service, address: w1.address, port: w1.portTargets?.[9080], labels: w1.labels, sa: w1.serviceAccount, ready: w1.ready, sidecar: w1.sidecar, mtls: w1.mtls, locality: w1.locality, ports: w1.servicePorts },
    { service: "reviews", address: "10.1.0.5", port: 9090, labels: { app: "reviews", version: "v1" }, sa: "bookinfo-reviews", ready: true, sidecar: true, mtls: true, locality: "eu/eu-a/", ports: [{ port: 9080, name: "http", protocol: "HTTP" }] });
  assert.deepEqual({ ready: w2.ready, sidecar: w2.sidecar, mtls: w2.mtls, sa: w2.serviceAccount, locality: w2.locality }, { ready: false, sidecar: false, mtls: false, sa: "default", locality: "" });
});

test("slices of unknown or ExternalName services, FQDN slices and unselected namespaces give nothing", () => {
  const workloads = kubeWorkloads(view({
    services: [svc("ext", "a", { type: "ExternalName", externalName: "db.example.com", ports: [{ name: "tcp", port: 5432 }] }), svc("hidden", "b", { ports: [{ port: 80 }] })],
    slices: [slice("ext", "a", [{ name: "tcp", port: 5432 }], [{ ip: "1.2.3.4" }]), slice("nosvc", "a", [{ port: 80 }], [{ ip: "1.2.3.5" }]), slice("hidden", "b", [{ port: 80 }], [{ ip: "1.2.3.6" }])],
    selected: (ns) => ns !== "b",
  }));
  assert.deepEqual(workloads, []);
});

test("an ExternalName Service becomes a DNS ServiceEntry for NAME.NS.svc.cluster.local", () => {
  const [se] = externalNameEntries({ services: [svc("db", "a", { type: "ExternalName", externalName: "db.example.com", ports: [{ name: "tcp-pg", port: 5432 }] })], selected: () => true });
  assert.deepEqual(se.spec, { hosts: ["db.a.svc.cluster.local"], location: "MESH_EXTERNAL", resolution: "DNS", ports: [{ number: 5432, name: "tcp-pg", protocol: "TCP" }], endpoints: [{ address: "db.example.com" }] });
});

test("a proxy's workload comes from its pod, found by node id, by name metadata or by IP", () => {
  const index = {
    pods: new Map([["shop/web-1", pod("web-1", "shop", "10.2.0.9", { labels: { app: "web" }, sa: "web", node: "n1", sidecar: true })]]),
    nodes: new Map([["n1", { metadata: { name: "n1", labels: { "topology.kubernetes.io/region": "r" } } }]]),
    services: [svc("web", "shop", { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "web" }] }), svc("other", "shop", { selector: { app: "x" }, ports: [{ port: 1 }] })],
  };
  const lies = { NAMESPACE: "kube-system", LABELS: { app: "admin" }, SERVICE_ACCOUNT: "root", SERVICE: "admin" };
  for (const node of [
    { id: "sidecar~10.2.0.9~web-1.shop~shop.svc.cluster.local", metadata: lies },
    { id: "x", metadata: { ...lies, POD_NAME: "web-1", POD_NAMESPACE: "shop" } },
    { id: "y", metadata: { ...lies, INSTANCE_IP: "10.2.0.9" } },
  ]) {
    const { workload, error } = proxyWorkload({ cluster: "", userAgentName: "", ...node }, undefined, index);
    assert.equal(error, undefined);
    assert.deepEqual({ ns: workload!.namespace, name: workload!.name, labels: workload!.labels, sa: workload!.serviceAccount, svc: workload!.service, addr: workload!.address, app: workload!.appPort, loc: workload!.locality, mtls: workload!.mtls },
      { ns: "shop", name: "web-1", labels: { app: "web" }, sa: "web", svc: "web", addr: "10.2.0.9", app: 9080, loc: "r//", mtls: false });
  }
  const node = (metadata: Record<string, unknown>, id = "sidecar~10.2.0.9~web-1.shop~shop.svc.cluster.local") => ({ id, cluster: "", userAgentName: "", metadata });
  assert.match(proxyWorkload(node({ INSTANCE_IP: "10.9.9.9" }), undefined, index).error!, /INSTANCE_IP 10\.9\.9\.9 is not pod shop\/web-1's IP 10\.2\.0\.9/);
  assert.match(proxyWorkload(node({}), "spiffe://cluster.local/ns/shop/sa/admin", index).error!, /identity .* is not pod shop\/web-1's service account shop\/web/);
  assert.equal(proxyWorkload(node({}), "spiffe://cluster.local/ns/shop/sa/web", index).workload?.mtls, true);
  assert.match(proxyWorkload(node({}, "sidecar~1.1.1.1~gone.shop~shop.svc.cluster.local"), undefined, index).error!, /pod shop\/gone .* is not known/);
  assert.match(proxyWorkload(node({ INSTANCE_IP: "10.7.7.7" }, "z"), undefined, index).error!, /no pod has the IP 10\.7\.7\.7/);
});

test("discoverySelectors: parsed with errors by field, matched as Kubernetes label selectors", () => {
  const ok = parseMeshConfig("discoverySelectors:\n- matchLabels: {istio-discovery: enabled}\n- matchExpressions: [{key: team, operator: In, values: [a, b]}]\n");
  assert.ok(ok.ok);
  assert.equal(ok.value.discoverySelectors!.length, 2);
  const bad = parseMeshConfig("discoverySelectors:\n- matchLabel: {a: b}\n- matchExpressions: [{key: t, operator: Within}]\n");
  assert.ok(!bad.ok);
  assert.match(bad.errors.join("\n"), /discoverySelectors\[0\]\.matchLabel is not a LabelSelector field/);
  assert.match(bad.errors.join("\n"), /discoverySelectors\[1\]\.matchExpressions\[0\]\.operator must be one of/);
  assert.equal(matchesSelector({ matchExpressions: [{ key: "team", operator: "In", values: ["a"] }] }, { team: "a" }), true);
  assert.equal(matchesSelector({ matchExpressions: [{ key: "team", operator: "NotIn", values: ["a"] }] }, { team: "a" }), false);
  assert.equal(matchesSelector({ matchExpressions: [{ key: "x", operator: "DoesNotExist" }], matchLabels: { a: "1" } }, { a: "1" }), true);
  assert.deepEqual(selectorProblems({ matchExpressions: [{ key: "k", operator: "Exists", values: ["v"] }] }, "s"), ["s.matchExpressions[0].values must be empty for Exists"]);
});

test("a Service without endpoints keeps its host as an endpoint-less internal entry, until an endpoint appears", () => {
  const services = [svc("idle", "shop", { selector: { app: "none" }, ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "dns", port: 53, protocol: "UDP" }] }),
    svc("web", "shop", { selector: { app: "web" }, ports: [{ name: "http", port: 80 }] }), svc("ext", "shop", { type: "ExternalName", externalName: "example.com", ports: [{ port: 443 }] }),
    svc("hidden", "other", { ports: [{ port: 80 }] })];
  const v = view({ services, slices: [slice("web", "shop", [{ name: "http", port: 80 }], [{ ip: "10.1.0.9" }])], selected: (ns) => ns === "shop" });
  const entries = endpointlessEntries(v, kubeWorkloads(v));
  assert.deepEqual(entries.map((e) => e.metadata.name), ["kube-endpointless-idle"], "web has an endpoint, ext is ExternalName, hidden is not selected");
  assert.deepEqual(entries[0].spec, { hosts: ["idle.shop.svc.cluster.local"], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 80, name: "http", protocol: "HTTP" }] });
  const later = view({ ...v, slices: [...v.slices, slice("idle", "shop", [{ name: "http", port: 8080 }], [{ ip: "10.1.0.10" }])] });
  assert.deepEqual(endpointlessEntries(later, kubeWorkloads(later)), []);
});

test("mutual TLS to a sidecar pod: from the injector's tlsMode label on every replica, or once its proxy proved itself here", () => {
  const labelled = pod("a", "shop", "10.1.0.11", { labels: { app: "web", "security.istio.io/tlsMode": "istio" }, sidecar: true });
  const proven = pod("b", "shop", "10.1.0.12", { labels: { app: "web" }, sidecar: true });
  const plain = pod("c", "shop", "10.1.0.13", { labels: { app: "web", "security.istio.io/tlsMode": "istio" } });
  const pods = new Map([["shop/a", labelled], ["shop/b", proven], ["shop/c", plain]]);
  const slices = [slice("web", "shop", [{ name: "http", port: 80 }], [{ ip: "10.1.0.11", pod: "a" }, { ip: "10.1.0.12", pod: "b" }, { ip: "10.1.0.13", pod: "c" }])];
  const services = [svc("web", "shop", { selector: { app: "web" }, ports: [{ name: "http", port: 80 }] })];
  const mtls = (proof: string[]) => kubeWorkloads(view({ services, slices, pods, mtlsPods: new Set(proof) })).map((w) => [w.name, w.mtls]);
  assert.deepEqual(mtls([]), [["a", true], ["b", false], ["c", false]], "the label alone, and only with a sidecar");
  assert.deepEqual(mtls(["shop/b"]), [["a", true], ["b", true], ["c", false]]);
});
