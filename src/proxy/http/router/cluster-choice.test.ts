// Cluster and host choice: the request hash from hash policies (stable, terminal stops, absent values skipped), the
// circuit breakers' verdict, and previous_hosts steering that still picks a host once all were tried.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newEndpoint, type Endpoint } from "../../upstream/endpoint.js";
import type { UpstreamCluster } from "../../upstream/cluster.js";
import type { StreamContext } from "../stream-context.js";
import { type Forward, overflowed, pickHost, requestHash } from "./cluster-choice.js";

function ctxWith(headers: Record<string, string>, remoteAddress = "10.0.0.1"): StreamContext {
  return { view: { header: (n: string) => headers[n], query: () => new URLSearchParams("user=7") }, conn: { remoteAddress } } as unknown as StreamContext;
}
const policies = (...p: Array<Partial<Forward["hashPolicies"][number]>>) => ({ hashPolicies: p.map((x) => ({ kind: "header", name: "", terminal: false, ...x })) }) as unknown as Forward;

test("the request hash: stable per value, combined across policies, skipped when absent, stopped by terminal", () => {
  const byUser = policies({ kind: "header", name: "x-user" });
  assert.equal(requestHash(ctxWith({ "x-user": "a" }), byUser), requestHash(ctxWith({ "x-user": "a" }), byUser));
  assert.notEqual(requestHash(ctxWith({ "x-user": "a" }), byUser), requestHash(ctxWith({ "x-user": "b" }), byUser));
  assert.equal(requestHash(ctxWith({}), byUser), undefined, "no value, no hash: the balancer picks at random");
  const two = policies({ kind: "header", name: "x-user" }, { kind: "source_ip" });
  assert.notEqual(requestHash(ctxWith({ "x-user": "a" }), two), requestHash(ctxWith({ "x-user": "a" }, "10.0.0.2"), two));
  const terminal = policies({ kind: "header", name: "x-user", terminal: true }, { kind: "source_ip" });
  assert.equal(requestHash(ctxWith({ "x-user": "a" }), terminal), requestHash(ctxWith({ "x-user": "a" }, "10.0.0.2"), terminal), "terminal: the source ip is not mixed in");
  assert.equal(requestHash(ctxWith({}), terminal), requestHash(ctxWith({}), policies({ kind: "source_ip" })), "an absent terminal value falls through");
  assert.equal(typeof requestHash(ctxWith({ cookie: "session=s1" }), policies({ kind: "cookie", name: "session" })), "number");
  assert.equal(typeof requestHash(ctxWith({}), policies({ kind: "query_parameter", name: "user" })), "number");
});

function cluster(hosts: Endpoint[], fields: Partial<UpstreamCluster> = {}): UpstreamCluster {
  return {
    type: "EDS", activeRequests: 0, breakers: { maxRequests: 2, maxPendingRequests: 3 }, pending: () => 0,
    pick: (_h: number | undefined, skip?: (e: Endpoint) => boolean) => hosts.find((e) => !skip || !skip(e)),
    ...fields,
  } as unknown as UpstreamCluster;
}

test("circuit breakers: max_requests and max_pending_requests", () => {
  assert.equal(overflowed(cluster([])), false);
  assert.equal(overflowed(cluster([], { activeRequests: 2 })), true);
  assert.equal(overflowed(cluster([], { pending: () => 3 } as Partial<UpstreamCluster>)), true);
  assert.equal(overflowed(cluster([], { activeRequests: 1, pending: () => 2 } as Partial<UpstreamCluster>)), false);
});

test("previous_hosts steers away from tried hosts, and takes one anyway once all were tried", () => {
  const [a, b] = [newEndpoint("10.0.0.1", 80), newEndpoint("10.0.0.2", 80)];
  const c = cluster([a, b]);
  const ctx = ctxWith({});
  assert.equal(pickHost(c, ctx, undefined, undefined), a);
  assert.equal(pickHost(c, ctx, undefined, new Set([a.key])), b);
  assert.equal(pickHost(c, ctx, undefined, new Set([a.key, b.key])), a, "every host tried: Envoy picks one rather than fail");
  assert.equal(pickHost(cluster([]), ctx, undefined, undefined), undefined);
});

test("ORIGINAL_DST: the host is where the connection was going", () => {
  const dst = newEndpoint("10.1.1.1", 8080);
  const c = cluster([], { type: "ORIGINAL_DST", originalDestinationHost: (address: string, port: number) => (address === "10.1.1.1" && port === 8080 ? dst : undefined) } as Partial<UpstreamCluster>);
  const ctx = { ...ctxWith({}), conn: { remoteAddress: "10.0.0.1", originalDst: { address: "10.1.1.1", port: 8080 } } } as unknown as StreamContext;
  assert.equal(pickHost(c, ctx, undefined, undefined), dst);
});
