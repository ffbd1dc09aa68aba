// Upstream TLS (transport_socket envoy.transport_sockets.tls). Not served yet: a cluster asking for it is refused
// with a clear error, so the config is NACKed rather than sending plaintext where TLS was asked for.
import type { TransportSocket__Output } from "../../xds/generated/envoy/config/core/v3/TransportSocket.js";

export interface UpstreamTls {
  servername?: string;
}

export function buildUpstreamTls(socket: TransportSocket__Output, _secrets: unknown, where: string): UpstreamTls | undefined {
  const type = socket.typed_config?.type_url ?? "";
  if (socket.name === "envoy.transport_sockets.raw_buffer" || type.endsWith("raw_buffer.v3.RawBuffer")) return undefined;
  throw new Error(`${where}: transport_socket ${socket.name || type} is not supported yet; upstream TLS is not implemented in this version of trellis proxy`);
}
