// Delta ADS (incremental xDS) on the wire: a raw gRPC client against the ADS server checks what Envoy relies on:
// wildcard CDS, named EDS subscriptions, per-resource versions, removed_resources (for deleted and for unknown
// names), unsubscribe, ACK/NACK by nonce, reconnecting with initial_resource_versions, and refusals by field name;
// then `trellis proxy --bootstrap` (a process) with Envoy-syntax per-type Delta streams for LDS and CDS.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { AdsServer } from "../../src/xds/ads-server.js";
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from "../../src/xds/ads-service.js";
import { jsonToStruct } from "../../src/xds/ads-service.js";
import { TYPE_URL } from "../../src/xds/resource.js";
import { PER_TYPE } from "../../src/xds/xds-services.js";
import { snapshot } from "../fixtures/xds-snapshot.js";
import { XdsStream } from "../fixtures/xds-stream.js";
import { startBootstrapProxy } from "../fixtures/bootstrap-proxy.js";
import { freePort } from "../../src/universal/workload-spec.js";
import { get, HCM, ROUTER } from "../proxy/harness.js";

type Delta = XdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

const server = new AdsServer();
let target = "";
const streams: Delta[] = [];
before(async () => { target = `127.0.0.1:${await server.listen("127.0.0.1", 0)}`; });
after(async () => { for (const s of streams) s.close(); await server.close(); });

function open(service = undefined as undefined | (typeof PER_TYPE)["cluster"]): Delta {
  const s: Delta = new XdsStream(target, "delta", service);
  streams.push(s);
  return s;
}

const node = (id: string) => ({ id, cluster: "test", metadata: jsonToStruct({ NAMESPACE: "default" }), user_agent_name: "raw", locality: null });
const cluster = (name: string, timeout = "1s") => ({ name, type: "EDS", eds_cluster_config: { eds_config: { ads: {} } }, connect_timeout: timeout });
const cla = (name: string, port: number) => ({ cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] }] });
const names = (r: DeltaDiscoveryResponse) => r.resources.map((x) => x.name).sort();

test("wildcard CDS, named EDS, changes by resource version, removals, unsubscribe, ACK and NACK by nonce", async () => {
  server.setSnapshot("n1", snapshot("v1", { cluster: [cluster("a"), cluster("b")], endpoint: [cla("a", 1001), cla("b", 1002)] }));
  const s = open();
  s.send({ node: node("n1"), type_url: TYPE_URL.cluster });
  const cds = await s.next("the first CDS response");
  assert.equal(cds.type_url, TYPE_URL.cluster);
  assert.deepEqual(names(cds), ["a", "b"]);
  assert.equal(cds.system_version_info, "v1");
  assert.ok(cds.nonce && cds.resources.every((r) => r.version && r.resource), "each resource carries its own version");
  const versionOfA = cds.resources.find((r) => r.name === "a")!.version;
  s.send({ type_url: TYPE_URL.cluster, response_nonce: cds.nonce });

  s.send({ type_url: TYPE_URL.endpoint, resource_names_subscribe: ["a", "missing"] });
  const eds = await s.next("the first EDS response");
  assert.deepEqual(names(eds), ["a"], "only the subscribed name that exists");
  assert.deepEqual(eds.removed_resources, ["missing"], "a subscribed name that does not exist is reported removed");
  s.send({ type_url: TYPE_URL.endpoint, response_nonce: eds.nonce });

  // b goes, c comes, a is unchanged (not resent); a's endpoints change (resent on EDS).
  server.setSnapshot("n1", snapshot("v2", { cluster: [cluster("a"), cluster("c")], endpoint: [cla("a", 2001), cla("c", 2003)] }));
  const cds2 = await s.next("CDS after the change");
  assert.deepEqual(names(cds2), ["c"]);
  assert.deepEqual(cds2.removed_resources, ["b"]);
  const eds2 = await s.next("EDS after the change");
  assert.equal(eds2.type_url, TYPE_URL.endpoint);
  assert.deepEqual(names(eds2), ["a"]);
  assert.deepEqual(eds2.removed_resources, [], "missing was reported once");
  s.send({ type_url: TYPE_URL.cluster, response_nonce: cds2.nonce });
  s.send({ type_url: TYPE_URL.endpoint, response_nonce: eds2.nonce, error_detail: { code: grpc.status.INVALID_ARGUMENT, message: "endpoint a: refused by the test" } });
  const nacked = async () => server.proxies().find((p) => p.node.id === "n1")?.types.find((t) => t.typeUrl === TYPE_URL.endpoint);
  for (let i = 0; i < 100 && (await nacked())?.state !== "NACKED"; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await nacked())?.state, "NACKED");
  assert.equal((await nacked())?.nackError, "endpoint a: refused by the test");
  assert.equal(server.proxies().find((p) => p.node.id === "n1")?.protocol, "Delta");

  // Unsubscribed: a's next change is not sent. Responses come in ADS order, so the CDS response for d is followed
  // by the answer to the next subscription, with nothing for a in between.
  s.send({ type_url: TYPE_URL.endpoint, resource_names_unsubscribe: ["a"], resource_names_subscribe: ["zzz"] });
  const heard = await s.next("the answer to the unsubscribe (zzz does not exist)");
  assert.deepEqual([names(heard), heard.removed_resources], [[], ["zzz"]]);
  s.send({ type_url: TYPE_URL.endpoint, response_nonce: heard.nonce });
  server.setSnapshot("n1", snapshot("v3", { cluster: [cluster("a"), cluster("c"), cluster("d")], endpoint: [cla("a", 3001), cla("c", 2003), cla("d", 3004)] }));
  const cds3 = await s.next("CDS for d");
  assert.deepEqual(names(cds3), ["d"]);
  s.send({ type_url: TYPE_URL.cluster, response_nonce: cds3.nonce });
  s.send({ type_url: TYPE_URL.endpoint, resource_names_subscribe: ["d"] });
  const eds3 = await s.next("EDS for d");
  assert.deepEqual(names(eds3), ["d"]);
  s.send({ type_url: TYPE_URL.endpoint, response_nonce: eds3.nonce });
  assert.equal((await nacked())?.state, "SYNCED", "the ACK of a later response clears the NACK");

  // A reconnect declares what it holds: only what differs comes back, and what is gone is removed.
  s.close();
  const r = open();
  r.send({ node: node("n1"), type_url: TYPE_URL.cluster, initial_resource_versions: { a: versionOfA, b: "old", c: "stale" } });
  const resumed = await r.next("CDS on the new stream");
  assert.deepEqual(names(resumed), ["c", "d"], "a is held at its version; c differs; d is new");
  assert.deepEqual(resumed.removed_resources, ["b"]);
});

test("refusals by field name: another type on a per-type stream, resource locators", async () => {
  server.setSnapshot("n2", snapshot("v1", { cluster: [cluster("a")], endpoint: [cla("a", 1001)] }));
  const cdsOnly = open(PER_TYPE.cluster);
  cdsOnly.send({ node: node("n2"), type_url: TYPE_URL.listener });
  const err = await cdsOnly.failure();
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.match(err.details, /carries only type.googleapis.com\/envoy.config.cluster.v3.Cluster/);

  const perType = open(PER_TYPE.cluster);
  perType.send({ node: node("n3"), type_url: TYPE_URL.cluster });
  // No snapshot yet: the first answer comes with the snapshot, even an empty one.
  server.setSnapshot("n3", snapshot("v0", { cluster: [] }));
  const empty = await perType.next("the empty first CDS answer");
  assert.deepEqual([empty.system_version_info, names(empty)], ["v0", []]);
  perType.send({ type_url: TYPE_URL.cluster, response_nonce: empty.nonce });
  server.setSnapshot("n3", snapshot("v1", { cluster: [cluster("x")], endpoint: [cla("x", 1)] }));
  assert.deepEqual(names(await perType.next("CDS on the per-type DeltaClusters stream")), ["x"]);

  const locators = open();
  locators.send({ node: node("n4"), type_url: TYPE_URL.cluster, resource_locators_subscribe: [{ name: "a" }] } as unknown as DeltaDiscoveryRequest);
  assert.match((await locators.failure()).details, /resource_locators_subscribe\/unsubscribe .* are not supported/);
});

test("trellis proxy --bootstrap with per-type Delta streams (lds_config / cds_config api_config_source DELTA_GRPC)", async () => {
  const port = await freePort();
  const listener = (body: string) => snapshot(body, {
    listener: [{ name: "web", address: { socket_address: { address: "127.0.0.1", port_value: port } }, filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: "web", route_config: { name: "local", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: body } } }] }] }, http_filters: [ROUTER] } }] }] }],
    cluster: [],
  });
  server.setSnapshot("envoy-delta", listener("first"));
  const source = `
    api_config_source:
      api_type: DELTA_GRPC
      transport_api_version: V3
      grpc_services:
      - envoy_grpc: { cluster_name: xds_cluster }`;
  const proxy = await startBootstrapProxy(`node: { id: envoy-delta, cluster: test }
dynamic_resources:
  lds_config:${source}
  cds_config:${source}
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds_cluster
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${target.split(":")[1]} } } }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
`);
  try {
    const body = async () => (await get(`http://127.0.0.1:${port}/`).catch(() => undefined))?.text;
    for (let i = 0; i < 100 && (await body()) !== "first"; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await body(), "first");
    server.setSnapshot("envoy-delta", listener("second"));
    for (let i = 0; i < 100 && (await body()) !== "second"; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await body(), "second");
    const p = server.proxies().find((x) => x.node.id === "envoy-delta")!;
    assert.equal(p.protocol, "Delta");
    assert.deepEqual(p.types.filter((t) => t.state === "SYNCED").map((t) => t.typeUrl.split(".").pop()), ["Cluster", "Listener"]);
  } finally {
    await proxy.stop();
  }
});
