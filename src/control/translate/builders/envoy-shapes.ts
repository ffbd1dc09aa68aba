// Envoy shapes every builder uses: filter names and typed configs, socket addresses, the outbound HTTP listener and
// the file access logger, written once so the builders stay about what to build rather than how Envoy spells it.
export type Json = Record<string, unknown>;

export const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
export const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };
export const CORS = { name: "envoy.filters.http.cors", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" } };
export const FAULT = { name: "envoy.filters.http.fault", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault" } };
export const H2 = { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } };

export function socket(address: string, port: number): Json {
  return { socket_address: { address, port_value: port } };
}

/** An outbound listener whose connection manager takes its routes over RDS. */
export function httpListener(name: string, address: string, port: number, routeName: string, statPrefix: string, filters: Json[], observe: Json): Json {
  return {
    name,
    traffic_direction: "OUTBOUND",
    address: socket(address, port),
    filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: statPrefix, rds: { route_config_name: routeName, config_source: { ads: {} } }, http_filters: filters, ...observe } }] }],
  };
}

/** Envoy's file access logger: its default text format, or JSON with Trellis' fields. */
export function fileAccessLog(log: { path: string; json: boolean }): Json {
  return {
    name: "envoy.access_loggers.file",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path: log.path, ...(log.json ? { log_format: { json_format: JSON_LOG_FIELDS } } : {}) },
  };
}

/** The JSON fields the proxy writes (Istio's default JSON access log keys, as Envoy command operators). */
const JSON_LOG_FIELDS = {
  start_time: "%START_TIME%", method: "%REQ(:METHOD)%", path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", protocol: "%PROTOCOL%",
  response_code: "%RESPONSE_CODE%", response_flags: "%RESPONSE_FLAGS%", bytes_received: "%BYTES_RECEIVED%", bytes_sent: "%BYTES_SENT%",
  duration: "%DURATION%", upstream_service_time: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", x_forwarded_for: "%REQ(X-FORWARDED-FOR)%",
  user_agent: "%REQ(USER-AGENT)%", request_id: "%REQ(X-REQUEST-ID)%", authority: "%REQ(:AUTHORITY)%", upstream_host: "%UPSTREAM_HOST%",
  upstream_cluster: "%UPSTREAM_CLUSTER%", downstream_remote_address: "%DOWNSTREAM_REMOTE_ADDRESS%",
};

/** Istio logs TCP connections too when access logs are on: every tcp_proxy without a logger gets this one. */
export function withTcpAccessLog(listener: Json, accessLog: Json[]): void {
  for (const chain of (listener.filter_chains as Array<{ filters?: Array<{ typed_config?: Json }> }> | undefined) ?? []) {
    for (const f of chain.filters ?? []) if (f.typed_config?.["@type"] === TCP && f.typed_config.access_log === undefined) f.typed_config.access_log = accessLog;
  }
}
