// Service VIPs: an address the platform assigned (a Kubernetes ClusterIP) is kept; the rest hash into 10.214.0.0/16,
// the same whatever else is assigned.
import assert from "node:assert/strict";
import { test } from "node:test";
import { serviceVips } from "./vips.js";

test("assigned VIPs are kept and the others hash as before", () => {
  const hosts = ["web.shop.svc.cluster.local", "db.shop.svc.cluster.local"];
  const hashed = serviceVips(hosts);
  const mixed = serviceVips(hosts, new Map([["web.shop.svc.cluster.local", "10.96.0.17"]]));
  assert.equal(mixed.get("web.shop.svc.cluster.local"), "10.96.0.17");
  assert.equal(mixed.get("db.shop.svc.cluster.local"), hashed.get("db.shop.svc.cluster.local"));
  assert.match(hashed.get("web.shop.svc.cluster.local")!, /^10\.214\.\d+\.\d+$/);
});
