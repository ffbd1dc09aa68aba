// Upstream TLS (transport_socket envoy.transport_sockets.tls with an UpstreamTlsContext): client certificate,
// trust, SNI, ALPN and SAN checks, compiled once; the material is read per new connection.
import type { TransportSocket__Output } from "../../xds/generated/envoy/config/core/v3/TransportSocket.js";
import type { UpstreamTlsContext__Output } from "../../xds/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js";
import { decodeAny } from "../../xds/resource.js";
import { compileTlsContext, type SecretLookup, type TlsMaterial } from "../tls/tls-context.js";

export interface UpstreamTls {
  servername?: string;
  material: () => TlsMaterial;
  /** A client certificate is configured (inline or SDS), so connections wait for it. */
  clientCert: boolean;
  /** Trust is configured (inline or SDS); without it the system's roots check the server, as Istio's SIMPLE TLS does. */
  trust: boolean;
}

export function buildUpstreamTls(socket: TransportSocket__Output, secrets: SecretLookup, where: string): UpstreamTls | undefined {
  const type = socket.typed_config?.type_url ?? "";
  if (socket.name === "envoy.transport_sockets.raw_buffer" || type.endsWith("raw_buffer.v3.RawBuffer")) return undefined;
  if (!type.endsWith("tls.v3.UpstreamTlsContext")) throw new Error(`${where}: transport_socket ${socket.name || type} is not supported (tls and raw_buffer are)`);
  const ctx = decodeAny<UpstreamTlsContext__Output>(socket.typed_config!, `${where}.transport_socket.typed_config`);
  if (!ctx.ok) throw new Error(ctx.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
  const common = ctx.value.common_tls_context;
  if (!common) throw new Error(`${where}.transport_socket: common_tls_context is required`);
  const validation = common.validation_context ?? common.combined_validation_context?.default_validation_context;
  return {
    servername: ctx.value.sni || undefined,
    material: compileTlsContext(common, secrets, `${where}.transport_socket.common_tls_context`),
    clientCert: common.tls_certificates.length > 0 || common.tls_certificate_sds_secret_configs.length > 0,
    trust: !!validation?.trusted_ca || !!common.validation_context_sds_secret_config || !!common.combined_validation_context?.validation_context_sds_secret_config,
  };
}
