// Why particular fields or values are refused (clearer than the generic message), and the conditions under which a
// field the proxy honours is honoured only for some values.
type Obj = Record<string, unknown>;

const XDS = "envoy.config.core.v3";

/** "type.field" (or an extension's type) -> the refusal text, naming what to do instead. */
export const REASONS: Readonly<Record<string, string>> = {
  [`${XDS}.ConfigSource.authorities`]: "xDS-TP authorities are not supported; use ads: {}",
  "envoy.config.bootstrap.v3.Bootstrap.cluster_manager": "cluster_manager (load_stats_config for LRS, outlier_detection event log, local cluster) is not supported",
  "envoy.config.bootstrap.v3.Bootstrap.tracing": "bootstrap-level tracing is not supported: set tracing.provider in each HttpConnectionManager",
  "envoy.config.bootstrap.v3.Bootstrap.typed_dns_resolver_config": "a bootstrap-wide DNS resolver is not supported: set typed_dns_resolver_config on each DNS cluster",
  "envoy.config.bootstrap.v3.Bootstrap.dns_resolution_config": "a bootstrap-wide DNS resolver is not supported: set typed_dns_resolver_config on each DNS cluster",
  "envoy.extensions.compression.zstd.compressor.v3.Zstd": "zstd is not supported: Node.js 20's node:zlib has no zstd (Node 22.15 added it); use gzip or brotli",
  "envoy.extensions.compression.zstd.decompressor.v3.Zstd": "zstd is not supported: Node.js 20's node:zlib has no zstd (Node 22.15 added it); use gzip or brotli",
  "envoy.config.accesslog.v3.AccessLog.filter": "access log filters are not supported: every request is logged; remove filter",
  "envoy.config.bootstrap.v3.RuntimeLayer.rtds_layer": "RTDS runtime layers are not supported: use static_layer, disk_layer or admin_layer",
  "envoy.config.cluster.v3.Cluster.lrs_server": "load reporting (LRS, lrs_server) is not supported",
};

/** A refusal text when the value is one the proxy does not implement, else undefined. */
export const CONDITIONS: Readonly<Record<string, (value: unknown, message: Obj) => string | undefined>> = {
  [`${XDS}.ApiConfigSource.api_type`]: (v) => {
    if (v === "GRPC" || v === "AGGREGATED_GRPC" || v === "DELTA_GRPC" || v === "AGGREGATED_DELTA_GRPC") return undefined;
    if (v === "REST") return "api_type REST (xDS over REST polling) is not supported: use GRPC or DELTA_GRPC";
    return `api_type ${String(v)} is not supported: use GRPC (state of the world) or DELTA_GRPC (incremental)`;
  },
  // Envoy's examples write access_log_path: /dev/null (no admin access log), which is what the proxy does.
  "envoy.config.bootstrap.v3.Admin.access_log_path": (v) =>
    v === "/dev/null" ? undefined : "an admin access log is not supported: remove access_log_path (or set /dev/null)",
  [`${XDS}.ConfigSource.initial_fetch_timeout`]: (v) =>
    durationZero(v) ? undefined : "initial_fetch_timeout other than 0s is not supported: the proxy waits for the first response (set 0s or remove it)",
  [`${XDS}.ConfigSource.resource_api_version`]: (v) => (v === "V3" ? undefined : `resource_api_version ${String(v)} is not supported: use V3`),
  [`${XDS}.ApiConfigSource.transport_api_version`]: (v) => (v === "V3" ? undefined : `transport_api_version ${String(v)} is not supported: use V3`),
  "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.transport_api_version": (v) => (v === "V3" ? undefined : `transport_api_version ${String(v)} is not supported: use V3`),
};

function durationZero(v: unknown): boolean {
  const d = v as { seconds?: number; nanos?: number } | null;
  return !d || (Number(d.seconds ?? 0) === 0 && Number(d.nanos ?? 0) === 0);
}
