// Registers the network filters Trellis serves: network RBAC ahead of the terminal filter, and the two terminal
// ones, the HTTP connection manager and tcp_proxy.
import type { HttpConnectionManager__Output } from "../../xds/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";
import type { TcpProxy__Output } from "../../xds/generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.js";
import type { RBAC__Output as NetworkRBAC__Output } from "../../xds/generated/envoy/extensions/filters/network/rbac/v3/RBAC.js";
import { typedConfig } from "../config/typed-config.js";
import { HttpConnectionManager } from "../http/connection-manager.js";
import { NetworkRbac } from "../rbac/network-rbac.js";
import { TcpProxyFilter } from "../tcp/tcp-proxy.js";
import { registerNetworkFilter } from "./network-filters.js";

const T = "type.googleapis.com/envoy.extensions.filters.network.";

registerNetworkFilter("envoy.filters.network.rbac", `${T}rbac.v3.RBAC`, {
  kind: "check",
  build: (any, c) => new NetworkRbac(typedConfig<NetworkRBAC__Output>(any, c.where), c.deps.stats, c.where),
});

registerNetworkFilter("envoy.filters.network.http_connection_manager", `${T}http_connection_manager.v3.HttpConnectionManager`, {
  kind: "terminal",
  build: (any, c) => new HttpConnectionManager(typedConfig<HttpConnectionManager__Output>(any, c.where), c.deps, c.where, c.direction),
});

registerNetworkFilter("envoy.filters.network.tcp_proxy", `${T}tcp_proxy.v3.TcpProxy`, {
  kind: "terminal",
  build: (any, c) => new TcpProxyFilter(typedConfig<TcpProxy__Output>(any, c.where), c.deps, c.where, c.direction),
});
