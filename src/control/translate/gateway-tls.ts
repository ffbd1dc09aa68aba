// The TLS a gateway server terminates: its certificate from a credentialName secret (served over SDS as
// "kubernetes://NAME", its client CA as "kubernetes://NAME-cacert", Istio's names), from files on the gateway's host,
// or the gateway's own mesh certificate (ISTIO_MUTUAL); clients' certificates required for MUTUAL and ISTIO_MUTUAL.
import type { ServerTls } from "./gateway-servers.js";
import { inboundTransportSocket } from "./mtls.js";

type Json = Record<string, unknown>;

/** A TLS secret as the control plane stores it (see control/secrets/secret-store.ts). */
export interface CredentialMaterial {
  certPem: string;
  keyPem: string;
  caPem?: string;
}

/** Finds a credentialName in the gateway proxy's namespace: its material, or why it cannot be used. */
export type CredentialLookup = (namespace: string, name: string) => { material?: CredentialMaterial; error?: string };

const DOWNSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const SDS = (name: string) => ({ name, sds_config: { ads: {}, resource_api_version: "V3" } });

export const credentialSdsName = (name: string) => `kubernetes://${name}`;
export const caSdsName = (name: string) => `kubernetes://${name}-cacert`;

/**
 * The gateway's mesh certificate, mesh clients' certificates required. Sidecars offer "istio" (and
 * "istio-peer-exchange") rather than HTTP's names when the gateway's port is declared HTTPS, as Istio's do; an HTTP
 * server accepts "istio" too (the connection manager sniffs HTTP/1 or HTTP/2 from the bytes), so the handshake does
 * not fail on ALPN.
 */
function istioMutual(alpn: string[]): Json {
  const socket = inboundTransportSocket(alpn.length === 0) as { typed_config: { common_tls_context: Json } };
  if (alpn.length) socket.typed_config.common_tls_context.alpn_protocols = [...alpn, "istio"];
  return socket;
}

export interface ServerTransport {
  transportSocket: Json;
  /** SDS secrets this server needs from the control plane. */
  secrets: Json[];
}

/**
 * The transport socket for a terminating server, or an error naming what is missing. `alpn` is what the listener
 * offers (h2 and http/1.1 for HTTPS; none for TLS carrying TCP).
 */
export function serverTransport(tls: ServerTls, namespace: string, credentials: CredentialLookup, alpn: string[]): { ok: ServerTransport } | { error: string } {
  if (tls.mode === "ISTIO_MUTUAL") return { ok: { transportSocket: istioMutual(alpn), secrets: [] } };
  const mutual = tls.mode === "MUTUAL";
  const sans = tls.subjectAltNames?.length ? { match_subject_alt_names: tls.subjectAltNames.map((exact) => ({ exact })) } : {};
  const secrets: Json[] = [];
  const common: Json = { ...(alpn.length ? { alpn_protocols: alpn } : {}) };
  if (tls.credentialName) {
    const found = credentials(namespace, tls.credentialName);
    if (!found.material) return { error: `credentialName ${tls.credentialName}: ${found.error ?? `no secret ${namespace}/${tls.credentialName}`}` };
    const m = found.material;
    secrets.push({ name: credentialSdsName(tls.credentialName), tls_certificate: { certificate_chain: { inline_string: m.certPem }, private_key: { inline_string: m.keyPem } } });
    common.tls_certificate_sds_secret_configs = [SDS(credentialSdsName(tls.credentialName))];
    if (mutual) {
      if (!m.caPem && !tls.caCertificates) return { error: `credentialName ${tls.credentialName}: MUTUAL needs the clients' CA, and the secret has none (create it with --cacert FILE)` };
      if (m.caPem) {
        secrets.push({ name: caSdsName(tls.credentialName), validation_context: { trusted_ca: { inline_string: m.caPem } } });
        common.combined_validation_context = { default_validation_context: { ...sans }, validation_context_sds_secret_config: SDS(caSdsName(tls.credentialName)) };
      }
    }
  } else {
    common.tls_certificates = [{ certificate_chain: { filename: tls.serverCertificate }, private_key: { filename: tls.privateKey } }];
  }
  if (mutual && !common.combined_validation_context) common.validation_context = { trusted_ca: { filename: tls.caCertificates }, ...sans };
  const transportSocket = { name: "envoy.transport_sockets.tls", typed_config: { "@type": DOWNSTREAM, ...(mutual ? { require_client_certificate: true } : {}), common_tls_context: common } };
  return { ok: { transportSocket, secrets } };
}
