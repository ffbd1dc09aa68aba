// Istio's Gateway and the Gateway API's Gateway share a kind name: the store keeps both, apart, across a restart.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/control/store/store.js";
import { storeKind } from "../../src/api/store-kind.js";
import { findKind } from "../../src/api/kinds.js";

const dir = mkdtempSync(join(tmpdir(), "store-kinds-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("an Istio Gateway and a Gateway API Gateway of one name are two resources", () => {
  const store = new Store(dir);
  store.put({ apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "edge", namespace: "default" }, spec: { selector: { istio: "ingressgateway" } } });
  store.put({ apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", metadata: { name: "edge", namespace: "default" }, spec: { gatewayClassName: "trellis" } });
  const istio = storeKind(findKind("gateway")!);
  const api = storeKind(findKind("gtw")!);
  assert.equal(istio, "Gateway");
  assert.equal(api, "Gateway.gateway.networking.k8s.io");
  for (const s of [store, new Store(dir)]) {
    assert.deepEqual(s.list(istio).map((r) => r.apiVersion), ["networking.istio.io/v1"]);
    assert.deepEqual(s.list(api).map((r) => r.apiVersion), ["gateway.networking.k8s.io/v1"]);
    assert.equal(s.get(api, "default", "edge")?.spec.gatewayClassName, "trellis");
  }
  store.delete(api, "default", "edge");
  assert.equal(new Store(dir).list().length, 1);
});
