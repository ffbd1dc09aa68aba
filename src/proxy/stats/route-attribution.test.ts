// The service a route chose is known before any filter runs, and an address is never read as a service name.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileRouteTable } from "../http/route-table.js";
import { requestView } from "../http/request-view.js";
import type { StreamContext } from "../http/stream-context.js";
import { parseMessage } from "../../xds/resource.js";
import type { RouteConfiguration__Output } from "../../xds/generated/envoy/config/route/v3/RouteConfiguration.js";
import { attributeRoute, serviceOfAuthority } from "./route-attribution.js";

function routeOf(route: Record<string, unknown>) {
  const parsed = parseMessage<RouteConfiguration__Output>("envoy.config.route.v3.RouteConfiguration", {
    name: "r", virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/" }, route }] }],
  });
  assert.ok(parsed.ok);
  const view = requestView("GET", "/", "127.0.0.1:15123", "http", { "x-cluster": "outbound|9080||details.default.svc.cluster.local" });
  const r = compileRouteTable(parsed.value).virtualHost(view.authority)!.routes[0];
  return { route: r, view } as unknown as StreamContext;
}

const ratings = { host: "ratings.default.svc.cluster.local", name: "ratings", namespace: "default" };
const lookup = (name: string) => (name.endsWith("ratings.default.svc.cluster.local") ? { istioService: ratings } : undefined);

test("a single-cluster route names its cluster and the cluster's Istio service", () => {
  const ctx = routeOf({ cluster: "outbound|9080||ratings.default.svc.cluster.local" });
  attributeRoute(ctx, lookup);
  assert.equal(ctx.upstreamCluster, "outbound|9080||ratings.default.svc.cluster.local");
  assert.deepEqual(ctx.upstreamService, ratings);
});

test("a weighted route is attributed to its heaviest cluster, every time", () => {
  for (let i = 0; i < 20; i++) {
    const ctx = routeOf({ weighted_clusters: { clusters: [{ name: "outbound|9080|v1|ratings.default.svc.cluster.local", weight: 10 }, { name: "outbound|9080|v2|ratings.default.svc.cluster.local", weight: 90 }] } });
    attributeRoute(ctx, lookup);
    assert.equal(ctx.upstreamCluster, "outbound|9080|v2|ratings.default.svc.cluster.local");
    assert.deepEqual(ctx.upstreamService, ratings);
  }
});

test("a cluster_header route names the cluster the header names, even one CDS does not know", () => {
  const ctx = routeOf({ cluster_header: "x-cluster" });
  attributeRoute(ctx, lookup);
  assert.equal(ctx.upstreamCluster, "outbound|9080||details.default.svc.cluster.local");
  assert.equal(ctx.upstreamService, undefined);
});

test("an authority that is an address gives no service name or namespace; a service name gives both", () => {
  assert.deepEqual(serviceOfAuthority("127.0.0.1:15123"), { host: "127.0.0.1", name: "unknown", namespace: "unknown" });
  assert.deepEqual(serviceOfAuthority("[::1]:80"), { host: "[::1]", name: "unknown", namespace: "unknown" });
  assert.deepEqual(serviceOfAuthority("ratings.default.svc.cluster.local:9080"), { host: "ratings.default.svc.cluster.local", name: "ratings", namespace: "default" });
  assert.deepEqual(serviceOfAuthority("ratings"), { host: "ratings", name: "ratings", namespace: "unknown" });
  assert.deepEqual(serviceOfAuthority(""), { host: "unknown", name: "unknown", namespace: "unknown" });
});
