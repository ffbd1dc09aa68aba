// Upstream TLS (transport_socket envoy.transport_sockets.tls with an UpstreamTlsContext): client certificate,
// trust, SNI, ALPN and SAN checks, compiled once; the material is read per new connection.
import type { TransportSocket__Output } from "../../xds/generated/envoy/config/core/v3/TransportSocket.js";
import type { UpstreamTlsContext__Output } from "../../xds/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js";
import type { CommonTlsContext__Output } from "../../xds/generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.js";
import { compileTlsContext, type SecretLookup, type TlsMaterial } from "../tls/tls-context.js";
import { typedConfig } from "../config/typed-config.js";

export interface UpstreamTls {
  servername?: string;
  material: () => TlsMaterial;
  /** A client certificate is configured (inline or SDS), so connections wait for it. */
  clientCert: boolean;
  /** Trust is configured (inline or SDS); a validation_context without trusted_ca checks the server against the system's roots. */
  trust: boolean;
  /**
   * No validation context at all: as Envoy, the server's certificate is not verified (the load logs a warning).
   * Wherever the config asks for validation (a validation_context, even empty, or SDS trust) verification stays on.
   */
  verify: boolean;
}

export function buildUpstreamTls(socket: TransportSocket__Output, secrets: SecretLookup, where: string, warn: (message: string) => void = defaultWarn): UpstreamTls | undefined {
  const type = socket.typed_config?.type_url ?? "";
  if (socket.name === "envoy.transport_sockets.raw_buffer" || type.endsWith("raw_buffer.v3.RawBuffer")) return undefined;
  if (!type.endsWith("tls.v3.UpstreamTlsContext")) throw new Error(`${where}: transport_socket ${socket.name || type} is not supported (tls and raw_buffer are)`);
  const ctx = typedConfig<UpstreamTlsContext__Output>(socket.typed_config!, `${where}.transport_socket.typed_config`);
  // Envoy accepts an UpstreamTlsContext with only `sni` (or nothing): TLS with no client certificate and no checks.
  const common = ctx.common_tls_context ?? EMPTY_COMMON;
  const validation = common.validation_context ?? common.combined_validation_context?.default_validation_context;
  const verify = common.validation_context_type !== undefined && common.validation_context_type !== null;
  if (!verify) warn(`${where}.transport_socket: UpstreamTlsContext has no validation_context, so the upstream's certificate is not verified (as in Envoy); add common_tls_context.validation_context (trusted_ca, or empty for the system's roots) to verify it`);
  return {
    servername: ctx.sni || undefined,
    material: compileTlsContext(common, secrets, `${where}.transport_socket.common_tls_context`),
    clientCert: common.tls_certificates.length > 0 || common.tls_certificate_sds_secret_configs.length > 0,
    trust: !!validation?.trusted_ca || !!common.validation_context_sds_secret_config || !!common.combined_validation_context?.validation_context_sds_secret_config,
    verify,
  };
}

const EMPTY_COMMON = { tls_certificates: [], tls_certificate_sds_secret_configs: [], alpn_protocols: [] } as unknown as CommonTlsContext__Output;

/** One warning per distinct text: a cluster rebuilt by every xDS push must not repeat it. */
const warned = new Set<string>();
function defaultWarn(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.error(`trellis proxy: warning: ${message}`);
}
