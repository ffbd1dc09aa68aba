// How a cluster reaches its endpoints under each DestinationRule TLS mode, and the endpoint metadata auto mTLS reads.
import assert from "node:assert/strict";
import { test } from "node:test";
import { upstreamTransport } from "../../src/control/translate/mtls.js";
import { translate } from "../../src/control/translate/translate.js";
import type { Workload } from "../../src/control/registry/registry.js";

function workload(version: string, mtls: boolean, sa = "reviews"): Workload {
  return { id: `reviews-${version}`, name: `reviews-${version}`, namespace: "default", service: "reviews", labels: { app: "reviews", version }, serviceAccount: sa, address: "127.0.0.1", inboundPort: 15000 + version.length, servicePorts: [{ port: 9080, name: "http", protocol: "HTTP" }], upstreams: [], ready: true, sidecar: mtls, mtls, interception: "NONE" };
}

type Out = { transport_socket?: { name: string; typed_config: { sni: string; common_tls_context: { combined_validation_context: { default_validation_context: { match_typed_subject_alt_names: Array<{ matcher: { exact: string } }> } } } } }; transport_socket_matches?: Array<{ name: string; match: object; transport_socket: { name: string } }> };

test("DestinationRule TLS modes and auto mTLS", () => {
  const mixed = [workload("v1", true), workload("v2", false, "vm")];
  const cases: Array<[string, string | undefined, Workload[], (o: Out) => void]> = [
    ["auto, mixed endpoints: TLS for tlsMode istio, plaintext for the rest", undefined, mixed, (o) => {
      assert.equal(o.transport_socket, undefined);
      assert.deepEqual(o.transport_socket_matches!.map((m) => [m.name, m.match, m.transport_socket.name]), [["tlsMode-istio", { tlsMode: "istio" }, "envoy.transport_sockets.tls"], ["tlsMode-disabled", {}, "envoy.transport_sockets.raw_buffer"]]);
    }],
    ["auto, no sidecar endpoint: plaintext", undefined, [workload("v2", false)], (o) => assert.deepEqual(o, {})],
    ["auto, no endpoints: plaintext", undefined, [], (o) => assert.deepEqual(o, {})],
    ["ISTIO_MUTUAL: TLS to every endpoint, SANs of all", "ISTIO_MUTUAL", mixed, (o) => {
      assert.equal(o.transport_socket_matches, undefined);
      assert.equal(o.transport_socket!.typed_config.sni, "outbound_.9080_._.reviews.default.svc.cluster.local");
      assert.deepEqual(o.transport_socket!.typed_config.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names.map((m) => m.matcher.exact), ["spiffe://cluster.local/ns/default/sa/reviews", "spiffe://cluster.local/ns/default/sa/vm"]);
    }],
    ["DISABLE: plaintext even to sidecars", "DISABLE", mixed, (o) => assert.deepEqual(o, {})],
  ];
  for (const [name, mode, endpoints, check] of cases) {
    try {
      check(upstreamTransport(mode, endpoints, "reviews.default.svc.cluster.local", 9080, "http") as Out);
    } catch (err) {
      throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
    }
  }
});

test("endpoints say tlsMode istio only when their sidecar holds a mesh certificate", () => {
  const client: Workload = { ...workload("v1", true), id: "productpage-v1", name: "productpage-v1", service: undefined, labels: { app: "productpage" }, servicePorts: [], upstreams: [{ host: "reviews", port: 9080, localPort: 19080 }] };
  const out = translate({ resources: [], workloads: [workload("v1", true), workload("v2", false)], proxy: client });
  const cla = out.endpoints.find((e) => e.cluster_name === "outbound|9080||reviews.default.svc.cluster.local") as { endpoints: Array<{ lb_endpoints: Array<{ metadata: { filter_metadata: Record<string, unknown> } }> }> };
  assert.deepEqual(cla.endpoints[0].lb_endpoints.map((e) => e.metadata.filter_metadata["envoy.transport_socket_match"]), [{ tlsMode: "istio" }, undefined]);
});
