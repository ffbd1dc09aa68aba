// The network filter registry: the built-in filters by Envoy name and kind, found by config type; anything else
// (or a terminal filter in a check's place) is refused by the listener with the supported names.
import assert from "node:assert/strict";
import { test } from "node:test";
import "./builtin-network-filters.js";
import { networkFilterFactory, registeredNetworkFilters } from "./network-filters.js";

const T = "type.googleapis.com/envoy.extensions.filters.network.";

test("built-in network filters are registered by name, kind and config type", () => {
  assert.deepEqual(registeredNetworkFilters("check"), ["envoy.filters.network.rbac"]);
  assert.deepEqual(registeredNetworkFilters("terminal").sort(), ["envoy.filters.network.http_connection_manager", "envoy.filters.network.tcp_proxy"]);
  assert.equal(networkFilterFactory(`${T}rbac.v3.RBAC`)?.kind, "check");
  assert.equal(networkFilterFactory(`${T}tcp_proxy.v3.TcpProxy`)?.kind, "terminal");
  assert.equal(networkFilterFactory(`${T}http_connection_manager.v3.HttpConnectionManager`)?.kind, "terminal");
  assert.equal(networkFilterFactory(`${T}redis_proxy.v3.RedisProxy`), undefined);
});
