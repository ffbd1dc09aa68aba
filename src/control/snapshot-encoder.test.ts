// SnapshotEncoder: a kind's version changes exactly when its resources do, one encoding is shared by every proxy
// given the same resource, only what changed is encoded anew, and nothing is kept past the generation after its last use.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AdsServer } from "../xds/ads-server.js";
import { decodeAny } from "../xds/resource.js";
import { SnapshotEncoder } from "./snapshot-encoder.js";
import type { ProxyResources } from "./translate/translate.js";

const socket = (port: number) => ({ socket_address: { address: "127.0.0.1", port_value: port } });

function resources(timeout: string): ProxyResources {
  return {
    clusters: [{ name: "outbound|80||a.default.svc.cluster.local", type: "EDS", eds_cluster_config: { eds_config: { ads: {} }, service_name: "outbound|80||a.default.svc.cluster.local" }, connect_timeout: "1s" }],
    endpoints: [{ cluster_name: "outbound|80||a.default.svc.cluster.local", endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(8080) } }] }] }],
    listeners: [{ name: "out", address: socket(15001), filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", stat_prefix: "out",
      rds: { route_config_name: "80|a", config_source: { ads: {} } }, http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
    } }] }] }],
    routes: [{ name: "80|a", virtual_hosts: [{ name: "a", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "outbound|80||a.default.svc.cluster.local", timeout: timeout } }] }] }],
  };
}

test("a kind's version is the same for the same resources, in any encoder, and changes with them", () => {
  const snap = new SnapshotEncoder().snapshot(resources("5s"), []);
  const again = new SnapshotEncoder().snapshot(resources("5s"), []);
  const other = new SnapshotEncoder().snapshot(resources("6s"), []);
  for (const kind of ["cluster", "endpoint", "listener", "route"] as const) {
    assert.match(snap.versions[kind]!, /^[0-9a-f]{16}$/);
    assert.equal(snap.versions[kind], again.versions[kind]);
  }
  assert.notEqual(other.versions.route, snap.versions.route);
  assert.equal(other.versions.cluster, snap.versions.cluster);
  const reordered = new SnapshotEncoder().snapshot({ ...resources("5s"), routes: [...resources("5s").routes, { name: "b", virtual_hosts: [] }] }, []);
  const reversed = new SnapshotEncoder().snapshot({ ...resources("5s"), routes: [{ name: "b", virtual_hosts: [] }, ...resources("5s").routes] }, []);
  assert.notEqual(reordered.versions.route, reversed.versions.route, "order is part of the version, as it was with one JSON list");
  assert.equal(snap.versions.secret, undefined, "no SDS without secrets");
  assert.deepEqual(AdsServer.checkConsistency(snap), []);
  const route = decodeAny<{ virtual_hosts: Array<{ routes: Array<{ route: { timeout: { seconds: number } } }> }> }>(snap.resources.route!.get("80|a")!);
  assert.ok(route.ok);
  assert.equal(route.value.virtual_hosts[0].routes[0].route.timeout.seconds, 5);
});

test("proxies given the same resource share its encoding; a changed resource is encoded anew", () => {
  const encoder = new SnapshotEncoder();
  encoder.nextGeneration();
  const a = encoder.snapshot(resources("5s"), []);
  const b = encoder.snapshot(resources("5s"), []);
  assert.equal(a.resources.cluster!.get("outbound|80||a.default.svc.cluster.local"), b.resources.cluster!.get("outbound|80||a.default.svc.cluster.local"));
  assert.equal(a.resources.route!.get("80|a"), b.resources.route!.get("80|a"));
  encoder.nextGeneration();
  const c = encoder.snapshot(resources("7s"), []);
  assert.equal(c.resources.listener!.get("out"), a.resources.listener!.get("out"), "unchanged across one generation: reused");
  assert.notEqual(c.resources.route!.get("80|a"), a.resources.route!.get("80|a"));
  assert.notEqual(c.versions.route, a.versions.route);
  assert.equal(c.versions.listener, a.versions.listener);
  // Two generations without the 5s route: its encoding is gone, so asking again encodes it afresh.
  encoder.nextGeneration();
  encoder.nextGeneration();
  const d = encoder.snapshot(resources("5s"), []);
  assert.notEqual(d.resources.route!.get("80|a"), a.resources.route!.get("80|a"));
  assert.equal(d.versions.route, a.versions.route);
});

test("the consistency check still finds a listener whose routes are missing, with shared encodings", () => {
  const encoder = new SnapshotEncoder();
  const good = encoder.snapshot(resources("5s"), []);
  assert.deepEqual(AdsServer.checkConsistency(good), []);
  const broken = encoder.snapshot({ ...resources("5s"), routes: [], endpoints: [] }, []);
  assert.deepEqual(AdsServer.checkConsistency(broken).sort(), [
    "cluster outbound|80||a.default.svc.cluster.local needs endpoints outbound|80||a.default.svc.cluster.local, which the snapshot lacks",
    "listener out needs route configuration 80|a, which the snapshot lacks",
  ]);
});

test("an invalid resource throws with its type, and is not cached as if encoded", () => {
  const encoder = new SnapshotEncoder();
  const bad = { ...resources("5s"), clusters: [{ name: "x", connect_timeout: "not a duration" }] };
  assert.throws(() => encoder.snapshot(bad, []), /envoy.config.cluster.v3.Cluster/);
  assert.throws(() => encoder.snapshot(bad, []), /envoy.config.cluster.v3.Cluster/);
});
