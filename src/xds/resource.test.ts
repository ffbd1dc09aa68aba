// Decoding Envoy config from proto3 JSON: canonical objects, Any payloads, and errors that name their field.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeAny, encodeAny, parseMessage, toProto3Json, TYPE_URL } from "./resource.js";
import type { Cluster__Output } from "./generated/envoy/config/cluster/v3/Cluster.js";
import type { HttpConnectionManager__Output } from "./generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";
import type { Listener__Output } from "./generated/envoy/config/listener/v3/Listener.js";

const listenerJson = {
  name: "listener_0",
  address: { socket_address: { address: "127.0.0.1", port_value: 10000 } },
  filter_chains: [{
    filters: [{
      name: "envoy.filters.network.http_connection_manager",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix: "ingress_http",
        route_config: { name: "local", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "backend", timeout: "1.5s" } }] }] },
        http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
      },
    }],
  }],
};

test("parses a listener written as Envoy's docs write it and decodes its typed_config", () => {
  const res = parseMessage<Listener__Output>("envoy.config.listener.v3.Listener", listenerJson);
  assert.ok(res.ok, JSON.stringify(!res.ok && res.errors));
  const filter = res.value.filter_chains[0].filters[0];
  assert.equal(filter.config_type, "typed_config");
  const hcm = decodeAny<HttpConnectionManager__Output>(filter.typed_config!);
  assert.ok(hcm.ok);
  assert.equal(hcm.value.stat_prefix, "ingress_http");
  assert.deepEqual(hcm.value.route_config!.virtual_hosts[0].routes[0].route!.timeout, { seconds: 1, nanos: 500000000 });
});

test("camelCase field names are accepted as proto3 JSON allows", () => {
  const res = parseMessage<Cluster__Output>("envoy.config.cluster.v3.Cluster", { name: "c", connectTimeout: "0.25s", lbPolicy: "LEAST_REQUEST" });
  assert.ok(res.ok);
  assert.equal(res.value.lb_policy, "LEAST_REQUEST");
  assert.deepEqual(res.value.connect_timeout, { seconds: 0, nanos: 250000000 });
});

test("errors name the field path and suggest the fix", () => {
  const res = parseMessage("envoy.config.cluster.v3.Cluster", { name: "c", conect_timeout: "5s", lb_policy: "ROUND_ROBN", connect_timeout: "soon" });
  assert.equal(res.ok, false);
  const text = JSON.stringify(!res.ok && res.errors);
  assert.match(text, /"path":"conect_timeout".*did you mean \\"connect_timeout\\"/);
  assert.match(text, /"path":"lb_policy".*did you mean \\"ROUND_ROBIN\\"/);
  assert.match(text, /"path":"connect_timeout".*expected a duration/);
});

test("protoc-gen-validate rules from Envoy's protos are enforced", () => {
  const res = parseMessage("envoy.config.cluster.v3.Cluster", { name: "" });
  assert.equal(res.ok, false);
  assert.match(JSON.stringify(!res.ok && res.errors), /"path":"name".*must not be empty/);
  const bad = parseMessage("envoy.config.listener.v3.Listener", { ...listenerJson, filter_chains: [{ filters: [{ name: "x", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy" } }] }] });
  assert.equal(bad.ok, false);
  assert.match(JSON.stringify(!bad.ok && bad.errors), /filter_chains\[0\]\.filters\[0\]\.typed_config\.stat_prefix/);
});

test("an unknown extension type is refused by name", () => {
  const res = parseMessage("envoy.config.listener.v3.Listener", { name: "l", filter_chains: [{ filters: [{ name: "x", typed_config: { "@type": "type.googleapis.com/acme.Nope" } }] }] });
  assert.equal(res.ok, false);
  assert.match(JSON.stringify(!res.ok && res.errors), /unknown type \\"type.googleapis.com\/acme.Nope\\"/);
});

test("encodeAny and decodeAny round-trip, and toProto3Json renders durations and @type", () => {
  const any = encodeAny(TYPE_URL.listener, listenerJson);
  const back = decodeAny<Listener__Output>(any);
  assert.ok(back.ok);
  const json = toProto3Json("envoy.config.listener.v3.Listener", back.value) as Record<string, unknown>;
  const text = JSON.stringify(json);
  assert.match(text, /"@type":"type.googleapis.com\/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"/);
  assert.match(text, /"timeout":"1.5s"/);
});
