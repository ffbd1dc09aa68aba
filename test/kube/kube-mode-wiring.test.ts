// The control plane in Kubernetes mode without a real cluster: an API server that cannot be reached at start (a
// clear message, retries with backoff, the control plane serves anyway), and the wiring from Services,
// EndpointSlices and Pods to a connected proxy's EDS, checked against the API-server double (the real API server
// runs in kube-control.test.ts when its binaries are built).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { KubeApiDouble, waitFor } from "../fixtures/kube-api-double.js";
import { AdsRecorder } from "../fixtures/ads-recorder.js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { KubeMode } from "../../src/control/kube/kube-mode.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const planes: ControlPlane[] = [];
const recorders: AdsRecorder[] = [];
after(async () => {
  for (const r of recorders) r.close();
  for (const cp of planes) await cp.stop();
});

function plane(server: string, lines: string[]): ControlPlane {
  const kube = new KubeMode({ server, namespace: "default", source: "test" }, { log: (l) => lines.push(l), syncTimeoutMs: 1500, initialBackoffMs: 50, maxBackoffMs: 200 });
  const cp = new ControlPlane({ stateDir: mkdtempSync(join(tmpdir(), "trellis-kube-")), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, kube, log: (l) => lines.push(l) });
  planes.push(cp);
  return cp;
}

test("API server unreachable at start: said clearly, retried with backoff, the control plane serves meanwhile", async () => {
  const lines: string[] = [];
  const cp = plane("http://127.0.0.1:1", lines);
  await cp.start();
  assert.ok(lines.some((l) => /list services at the cluster scope: the API server http:\/\/127\.0\.0\.1:1 \(test\) cannot be reached.*retrying in/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /serving without a complete view of the cluster/.test(l)));
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/virtualservices`);
  assert.equal(res.status, 200);
  const rec = new AdsRecorder(`127.0.0.1:${cp.ports.xds}`, { id: "sidecar~10.0.0.1~p.ns~ns.svc.cluster.local" });
  recorders.push(rec);
  await waitFor("more retries", () => lines.filter((l) => /cannot be reached/.test(l)).length >= 10);
  assert.equal(rec.clusterNames().length, 0, "a proxy with no known pod gets no configuration");
});

test("Services, EndpointSlices and Pods become a connected proxy's EDS; a pod's readiness and deletion follow", async () => {
  const api = new KubeApiDouble();
  after(() => api.stop());
  const server = await api.start();
  api.put("/api/v1/namespaces", { metadata: { name: "shop" } });
  api.put("/api/v1/services", { metadata: { name: "web", namespace: "shop" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } });
  const pod = (name: string, ip: string, app: string) => ({ metadata: { name, namespace: "shop", labels: { app } }, spec: { nodeName: "n1", containers: [{ name: "app" }] }, status: { podIP: ip, phase: "Running", conditions: [{ type: "Ready", status: "True" }] } });
  api.put("/api/v1/pods", pod("web-1", "10.9.0.1", "web"));
  api.put("/api/v1/pods", pod("client-1", "10.9.0.9", "client"));
  const slice = (eps: Array<[string, boolean]>) => ({ metadata: { name: "web-x", namespace: "shop", labels: { "kubernetes.io/service-name": "web" } }, addressType: "IPv4", ports: [{ name: "http", port: 8080, protocol: "TCP" }], endpoints: eps.map(([ip, ready]) => ({ addresses: [ip], conditions: { ready }, targetRef: { kind: "Pod", namespace: "shop", name: ip === "10.9.0.1" ? "web-1" : "web-2" } })) });
  api.put("/apis/discovery.k8s.io/v1/endpointslices", slice([["10.9.0.1", true]]));
  const lines: string[] = [];
  const cp = plane(server, lines);
  await cp.start();
  const rec = new AdsRecorder(`127.0.0.1:${cp.ports.xds}`, { id: "sidecar~10.9.0.9~client-1.shop~shop.svc.cluster.local", metadata: { NAMESPACE: "kube-system", LABELS: { app: "admin" }, INTERCEPTION_MODE: "REDIRECT", ADMIN_ADDRESS: "10.9.9.9:15000" } });
  recorders.push(rec);
  const cluster = "outbound|80||web.shop.svc.cluster.local";
  await waitFor("web's endpoint", () => rec.endpoints(cluster).length === 1);
  assert.deepEqual(rec.endpoints(cluster, true), ["10.9.0.1:8080 HEALTHY"]);
  api.put("/api/v1/pods", pod("web-2", "10.9.0.2", "web"));
  api.put("/apis/discovery.k8s.io/v1/endpointslices", slice([["10.9.0.1", true], ["10.9.0.2", false]]));
  await waitFor("web-2 (not ready)", () => rec.endpoints(cluster).length === 2);
  assert.deepEqual(rec.endpoints(cluster, true), ["10.9.0.1:8080 HEALTHY", "10.9.0.2:8080 UNHEALTHY"]);
  api.remove("/apis/discovery.k8s.io/v1/endpointslices", "shop", "web-x");
  // The Service stays (its cluster too, so callers get 503 "no healthy upstream", not a missing route): no endpoints.
  await waitFor("no endpoints", () => rec.endpoints(cluster).length === 0);
  assert.ok(rec.clusterNames().includes(cluster), "a Service without endpoints keeps its cluster");
  const proxies = await (await fetch(`http://127.0.0.1:${cp.ports.api}/debug/proxies`)).json() as Array<{ workload?: { namespace: string; labels: Record<string, string>; adminAddress?: string } }>;
  assert.deepEqual({ ns: proxies[0].workload?.namespace, labels: proxies[0].workload?.labels }, { ns: "shop", labels: { app: "client" } }, "the proxy's workload is its pod's, not its claims");
  assert.equal(proxies[0].workload?.adminAddress, undefined, "an admin address off the stream's host is not dialled");
});
