// What the proxy does not implement is refused by name at load, never loaded and ignored: each bootstrap here is a
// real config's shape, run through `trellis proxy --bootstrap`, which must exit naming the field and the fix.
import assert from "node:assert/strict";
import { test } from "node:test";
import { refusedBootstrap } from "../../fixtures/bootstrap-proxy.js";

const ADMIN = `
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`;

function listener(hcmExtra = ""): string {
  return `
  listeners:
  - name: main
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: main${hcmExtra}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
}

const XDS_CLUSTER = `
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
    load_assignment:
      cluster_name: xds_cluster
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: 1 }`;

const cases: Array<{ name: string; yaml: string; expect: RegExp }> = [
  {
    name: "REST xDS (api_type: REST)",
    yaml: `dynamic_resources:
  lds_config: { ads: {} }
  ads_config:
    api_type: REST
    cluster_names: [xds_cluster]
static_resources:${XDS_CLUSTER}
${ADMIN}`,
    expect: /dynamic_resources\.ads_config\.api_type: api_type REST \(xDS over REST polling\) is not supported: use GRPC/,
  },
  {
    name: "an aggregated api_type on a per-type stream (it belongs in ads_config)",
    yaml: `dynamic_resources:
  cds_config:
    api_config_source:
      api_type: AGGREGATED_DELTA_GRPC
      transport_api_version: V3
      grpc_services:
      - envoy_grpc: { cluster_name: xds_cluster }
static_resources:${XDS_CLUSTER}
${ADMIN}`,
    expect: /dynamic_resources\.cds_config\.api_config_source\.api_type: AGGREGATED_DELTA_GRPC belongs in dynamic_resources\.ads_config; here use GRPC or DELTA_GRPC/,
  },
  {
    name: "RDS from a file (only listeners and clusters may come from files)",
    yaml: `static_resources:
  listeners:
  - name: main
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: main
          rds:
            route_config_name: local
            config_source:
              path_config_source: { path: /tmp/rds.yaml }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
${ADMIN}`,
    expect: /rds\.config_source\.path_config_source: RDS from a file is not supported \(only listeners and clusters are/,
  },
  {
    name: "RDS over a stream of its own to a server it names (only lds_config / cds_config get one)",
    yaml: `static_resources:
  listeners:
  - name: main
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: main
          rds:
            route_config_name: local
            config_source:
              api_config_source:
                api_type: GRPC
                transport_api_version: V3
                grpc_services:
                - envoy_grpc: { cluster_name: xds_cluster }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
${XDS_CLUSTER}
${ADMIN}`,
    expect: /rds\.config_source\.api_config_source: RDS over a stream of its own is not supported here \(only dynamic_resources lds_config \/ cds_config\); use ads: \{\} or self: \{\}/,
  },
  {
    name: "an access log filter (every request would be logged instead)",
    yaml: `static_resources:${listener(`
          access_log:
          - name: envoy.access_loggers.stdout
            filter:
              status_code_filter:
                comparison: { op: GE, value: { default_value: 500, runtime_key: k } }
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`)}
${ADMIN}`,
    expect: /access_log\[0\]\.filter: access log filters are not supported: every request is logged; remove filter/,
  },
  {
    name: "LRS (cluster_manager.load_stats_config)",
    yaml: `cluster_manager:
  load_stats_config:
    api_type: GRPC
    grpc_services:
    - envoy_grpc: { cluster_name: xds_cluster }
static_resources:${XDS_CLUSTER}
${ADMIN}`,
    expect: /cluster_manager: cluster_manager \(load_stats_config for LRS/,
  },
  {
    name: "any other field the proxy would ignore (HCM via)",
    yaml: `static_resources:${listener(`
          via: trellis-test`)}
${ADMIN}`,
    expect: /typed_config\.via: HttpConnectionManager\.via is not supported by Trellis \(the proxy would ignore it\); remove it/,
  },
  {
    name: "an extension the proxy does not implement (Lua)",
    yaml: `static_resources:
  listeners:
  - name: main
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: main
          route_config: {}
          http_filters:
          - name: envoy.filters.http.lua
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
${ADMIN}`,
    expect: /http_filters\[0\]\.typed_config\.@type: unknown type "type\.googleapis\.com\/envoy\.extensions\.filters\.http\.lua\.v3\.Lua"; Trellis does not support this extension/,
  },
];

for (const c of cases) {
  test(`refused by name: ${c.name}`, async () => {
    const r = await refusedBootstrap(c.yaml);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, c.expect);
  });
}
