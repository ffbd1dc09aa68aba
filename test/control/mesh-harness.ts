// Helpers for tests that run an in-process control plane with real sidecars connected over ADS.
import { createServer } from "node:net";
import { parseMessage } from "../../src/xds/resource.js";
import type { Bootstrap__Output } from "../../src/xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";

/** How a sidecar talks xDS: api_type GRPC or DELTA_GRPC, over ADS or (perType) per-type LDS/CDS streams. */
export interface XdsMode {
  apiType?: "GRPC" | "DELTA_GRPC";
  perType?: boolean;
}

function dynamicResources(mode: XdsMode): Record<string, unknown> {
  const grpcServices = [{ envoy_grpc: { cluster_name: "xds-grpc" } }];
  if (mode.perType) {
    const source = { api_config_source: { api_type: mode.apiType ?? "GRPC", transport_api_version: "V3", grpc_services: grpcServices } };
    return { cds_config: source, lds_config: source };
  }
  return { ads_config: { api_type: mode.apiType ?? "GRPC", grpc_services: grpcServices }, cds_config: { ads: {} }, lds_config: { ads: {} } };
}

/** A sidecar's bootstrap: xDS from the control plane on xdsPort, the workload described by Trellis node metadata. */
export function sidecarBootstrap(xdsPort: number, id: string, meta: Record<string, unknown>, mode: XdsMode = {}): Bootstrap__Output {
  const b = parseMessage<Bootstrap__Output>("envoy.config.bootstrap.v3.Bootstrap", {
    node: { id, cluster: String(meta.SERVICE ?? id), metadata: meta },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    dynamic_resources: dynamicResources(mode),
    static_resources: { clusters: [{ name: "xds-grpc", type: "STATIC", connect_timeout: "1s", typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } }, load_assignment: { cluster_name: "xds-grpc", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: xdsPort } } } }] }] } }] },
  });
  if (!b.ok) throw new Error(JSON.stringify(b.errors));
  return b.value;
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });
}

/** Polls ok() every 100 ms until it holds, or fails after timeoutMs. */
export async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
