// The Gateway API's kinds in Kubernetes mode against the real API server: a store started before their CRDs exist
// says so and does not wait for them, picks them up once the Gateway API's own CRDs are installed, and then lists,
// watches, writes and deletes them (GatewayClass cluster-scoped, Gateway kept apart from Istio's Gateway); the
// leader's status writer puts their Gateway API status into the API server (GatewayClass Accepted, route parents).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/control/kube/client.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { KubeStore } from "../../src/control/kube/kube-store.js";
import { StatusWriter } from "../../src/control/kube/leader-status.js";
import { CONTROLLER_NAME, convertGatewayApi } from "../../src/control/translate/gateway-api.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { gatewayApiCrds } from "../fixtures/kube/gateway-api-crds.js";

const bins = await kubeBinaries();
const crds = bins.ok ? gatewayApiCrds() : undefined;
const skip = !bins.ok ? bins.reason : !crds!.ok ? crds!.reason : false;
const WAIT_MS = 60_000;
const GW = "gateway.networking.k8s.io";

describe("Gateway API kinds in Kubernetes mode", { skip }, () => {
  let cluster: KubeCluster;
  let client: KubeClient;
  let store: KubeStore;
  const lines: string[] = [];

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    client = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
    await installCrds(client, loadCrds());
    store = new KubeStore(client, { log: (l) => lines.push(l), gatewayApiRecheckMs: 500 });
    store.start();
  });
  after(async () => {
    await store?.stop();
    client?.close();
    await cluster?.stop();
  });

  it("syncs without the Gateway API's CRDs and names what is missing", async () => {
    await store.waitSynced(WAIT_MS);
    await waitFor("the missing kinds logged", WAIT_MS, async () => (lines.some((l) => /serves no Gateway API gatewayclasses, gateways, httproutes/.test(l)) ? true : undefined));
  });

  it("watches the kinds once their CRDs are installed, writes them and their status, and deletes them", async () => {
    if (!crds?.ok) return;
    await installCrds(client, crds.crds);
    const gc = { apiVersion: `${GW}/v1`, kind: "GatewayClass", metadata: { name: "trellis" }, spec: { controllerName: CONTROLLER_NAME } };
    assert.equal((await cluster.request("POST", `/apis/${GW}/v1/gatewayclasses`, gc)).status, 201);
    const gw = { apiVersion: `${GW}/v1`, kind: "Gateway", metadata: { name: "edge", namespace: "default" }, spec: { gatewayClassName: "trellis", listeners: [{ name: "http", port: 80, protocol: "HTTP" }] } };
    assert.equal((await cluster.request("POST", `/apis/${GW}/v1/namespaces/default/gateways`, gw)).status, 201);
    await waitFor("the GatewayClass and Gateway in the store", WAIT_MS, async () => (store.get(`GatewayClass.${GW}`, "default", "trellis") && store.list(`Gateway.${GW}`).length === 1 ? true : undefined), 250)
      .catch((err: Error) => { throw new Error(`${err.message}; store kinds: ${[...new Set(store.list().map((r) => `${r.kind} ${r.apiVersion}`))].join(", ")}\n${lines.join("\n")}`); });
    assert.equal(store.list("Gateway").length, 0, "Istio's Gateway kind stays apart");
    const route = await store.put({ apiVersion: `${GW}/v1`, kind: "HTTPRoute", metadata: { name: "web", namespace: "default" }, spec: { parentRefs: [{ name: "edge" }], rules: [{ backendRefs: [{ name: "web", port: 80 }] }] } } as never);
    assert.equal(route.metadata.name, "web");
    assert.equal((await cluster.request("GET", `/apis/${GW}/v1/namespaces/default/httproutes/web`)).status, 200, "written to the API server");
    // What the leader does (leader-duties.ts runs this writer while it holds the Lease).
    const writer = new StatusWriter(client, {
      list: () => store.list(), on: (e, l) => store.on(e, l), off: (e, l) => store.off(e, l), context: () => ({}),
      gatewayApiStatus: () => convertGatewayApi(store.list(), { services: new Map() }).status,
    }, (l) => lines.push(l), 50);
    writer.start();
    try {
      type WithConditions = { status?: { conditions?: Array<{ type: string; status: string }>; parents?: Array<{ parentRef: { name: string } }> } };
      await waitFor("GatewayClass Accepted and the HTTPRoute's parent in the API server", WAIT_MS, async () => {
        const gcNow = (await cluster.request<WithConditions>("GET", `/apis/${GW}/v1/gatewayclasses/trellis`)).body;
        const routeNow = (await cluster.request<WithConditions>("GET", `/apis/${GW}/v1/namespaces/default/httproutes/web`)).body;
        return gcNow.status?.conditions?.some((c) => c.type === "Accepted" && c.status === "True") && routeNow.status?.parents?.some((p) => p.parentRef.name === "edge") ? true : undefined;
      }, 250).catch((err: Error) => { throw new Error(`${err.message}\n${lines.join("\n")}`); });
    } finally {
      writer.stop();
    }
    await store.delete(`GatewayClass.${GW}`, "default", "trellis");
    assert.equal((await cluster.request("GET", `/apis/${GW}/v1/gatewayclasses/trellis`)).status, 404, "a cluster-scoped kind is deleted by its name alone");
  });
});
