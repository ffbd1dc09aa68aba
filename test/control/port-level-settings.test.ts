// DestinationRule policies merged as Istio's MergeSubsetTrafficPolicy does: the rule's portLevelSettings for the
// port, then a subset's fields wholesale, then a subset's portLevelSettings for the port replacing all four.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { mergePolicy, type TrafficPolicy } from "../../src/control/translate/destination-rules.js";
import { translate } from "../../src/control/translate/translate.js";

const RANDOM = { simple: "RANDOM" };
const LEAST = { simple: "LEAST_REQUEST" };
const MUTUAL = { mode: "ISTIO_MUTUAL" };
const POOL = { tcp: { maxConnections: 5 }, http: { http1MaxPendingRequests: 7 } };

test("merge table: port-level settings, subset fields and subset port-level settings", () => {
  const rule: TrafficPolicy = { loadBalancer: RANDOM, connectionPool: POOL, tls: MUTUAL, portLevelSettings: [{ port: { number: 9090 }, loadBalancer: LEAST }] };
  const cases: Array<[string, TrafficPolicy | undefined, number, TrafficPolicy | undefined]> = [
    ["the rule alone", undefined, 8080, { loadBalancer: RANDOM, connectionPool: POOL, tls: MUTUAL, portLevelSettings: rule.portLevelSettings }],
    ["the rule's port-level entry replaces all four (no inheritance)", undefined, 9090, { loadBalancer: LEAST, connectionPool: undefined, outlierDetection: undefined, tls: undefined }],
    ["a subset's connection pool replaces the rule's wholesale", { connectionPool: { http: { maxRetries: 1 } } }, 8080, { loadBalancer: RANDOM, connectionPool: { http: { maxRetries: 1 } }, outlierDetection: undefined, tls: MUTUAL }],
    ["a subset's port-level entry replaces all four, even unset ones", { loadBalancer: LEAST, portLevelSettings: [{ port: { number: 8080 }, outlierDetection: { consecutive5xxErrors: 1 } }] }, 8080, { loadBalancer: undefined, connectionPool: undefined, outlierDetection: { consecutive5xxErrors: 1 }, tls: undefined }],
    ["a subset's port-level entry for another port leaves its own fields", { loadBalancer: LEAST, portLevelSettings: [{ port: { number: 9090 }, loadBalancer: RANDOM }] }, 8080, { loadBalancer: LEAST, connectionPool: POOL, outlierDetection: undefined, tls: MUTUAL }],
  ];
  for (const [name, subset, port, want] of cases) assert.deepEqual(mergePolicy(rule, subset, port), want, name);
});

test("per-port clusters: lb policy, circuit breakers and TLS come from the merged policy of their port", () => {
  const wl = (version: string, inboundPort: number): Workload => ({ id: `svc-${version}`, name: `svc-${version}`, namespace: "default", service: "svc", labels: { app: "svc", version }, serviceAccount: "svc", address: "127.0.0.1", inboundPort, servicePorts: [{ port: 8080, name: "http", protocol: "HTTP" }, { port: 9090, name: "http-admin", protocol: "HTTP" }], upstreams: [], ready: true, sidecar: true, mtls: true, interception: "NONE" });
  const caller: Workload = { ...wl("caller", 15300), service: "caller", labels: { app: "caller" }, upstreams: [{ host: "svc", port: 8080, localPort: 19300 }, { host: "svc", port: 9090, localPort: 19301 }] };
  const dr: IstioResource = { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "svc", namespace: "default" }, spec: {
    host: "svc", trafficPolicy: { loadBalancer: RANDOM, connectionPool: POOL, portLevelSettings: [{ port: { number: 9090 }, tls: { mode: "DISABLE" } }] },
    subsets: [{ name: "v1", labels: { version: "v1" }, trafficPolicy: { connectionPool: { http: { http2MaxRequests: 3 } } } }],
  } };
  const out = translate({ resources: [dr], workloads: [caller, wl("v1", 15301)], proxy: caller });
  const cluster = (name: string) => out.clusters.find((c) => c.name === name)!;
  const thresholds = (c: Record<string, unknown>) => (c.circuit_breakers as { thresholds: Array<Record<string, number>> }).thresholds[0];
  const p8080 = cluster("outbound|8080||svc.default.svc.cluster.local");
  const p9090 = cluster("outbound|9090||svc.default.svc.cluster.local");
  assert.equal(p8080.lb_policy, "RANDOM");
  assert.equal(thresholds(p8080).max_connections, 5);
  assert.ok(p8080.transport_socket_matches || p8080.transport_socket, "auto mTLS toward sidecars on 8080");
  assert.equal(p9090.lb_policy, "ROUND_ROBIN", "9090's entry sets no load balancer: the default, not the rule's");
  assert.equal(p9090.transport_socket ?? p9090.transport_socket_matches, undefined, "9090: TLS DISABLE");
  const v1 = cluster("outbound|8080|v1|svc.default.svc.cluster.local");
  assert.equal(v1.lb_policy, "RANDOM", "the subset sets no load balancer: the rule's");
  assert.equal(thresholds(v1).max_requests, 3);
  assert.equal(thresholds(v1).max_connections, 4294967295, "the subset's connection pool replaced the rule's, tcp limits included");
});
