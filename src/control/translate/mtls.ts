// Mutual TLS between sidecars, as Istio's auto mTLS does it: clusters whose endpoints hold mesh certificates get
// ISTIO_MUTUAL (unless a DestinationRule says otherwise), and inbound listeners follow the PeerAuthentication in force.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";

type Json = Record<string, unknown>;
type Mode = "STRICT" | "PERMISSIVE" | "DISABLE";

interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: string };
  portLevelMtls?: Record<string, { mode?: string }>;
}

const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.";
const SDS = (name: string) => ({ name, sds_config: { ads: {}, resource_api_version: "V3" } });

function modeOf(pa: IstioResource<PeerAuthenticationSpec> | undefined, port: number): Mode | undefined {
  if (!pa) return undefined;
  const m = pa.spec.portLevelMtls?.[String(port)]?.mode ?? pa.spec.mtls?.mode;
  return m === "STRICT" || m === "PERMISSIVE" || m === "DISABLE" ? m : undefined;
}

/** The PeerAuthentication mode for a workload's port: workload scope, then namespace, then the mesh; PERMISSIVE by default. */
export function peerAuthenticationMode(resources: IstioResource[], w: Workload, port: number, rootNamespace: string): Mode {
  const pas = (resources.filter((r) => r.kind === "PeerAuthentication") as unknown as Array<IstioResource<PeerAuthenticationSpec>>)
    .sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
  const selects = (pa: IstioResource<PeerAuthenticationSpec>) => Object.entries(pa.spec.selector?.matchLabels ?? {}).every(([k, v]) => w.labels[k] === v);
  const hasSelector = (pa: IstioResource<PeerAuthenticationSpec>) => Object.keys(pa.spec.selector?.matchLabels ?? {}).length > 0;
  const workload = pas.find((pa) => pa.metadata.namespace === w.namespace && hasSelector(pa) && selects(pa));
  const namespace = pas.find((pa) => pa.metadata.namespace === w.namespace && !hasSelector(pa) && pa.metadata.namespace !== rootNamespace);
  const mesh = pas.find((pa) => pa.metadata.namespace === rootNamespace && !hasSelector(pa));
  return modeOf(workload, port) ?? modeOf(namespace, port) ?? modeOf(mesh, port) ?? "PERMISSIVE";
}

export function spiffeOf(w: Workload): string {
  return `spiffe://cluster.local/ns/${w.namespace}/sa/${w.serviceAccount}`;
}

/** The key of endpoint metadata (and transport_socket_matches) that says an endpoint's sidecar talks mesh mTLS. */
export const TLS_MODE_MATCH = "envoy.transport_socket_match";

/**
 * How a cluster reaches a service's endpoints. A DestinationRule's ISTIO_MUTUAL: one TLS transport socket. Auto mTLS
 * (the DestinationRule says nothing) as Istio does it, per endpoint: transport_socket_matches pick TLS for endpoints
 * whose metadata says tlsMode istio (their sidecar holds a mesh certificate) and plaintext for the rest, so one
 * workload without a sidecar does not turn mutual TLS off for its whole service. DISABLE: plaintext.
 */
export function upstreamTransport(drTlsMode: string | undefined, endpoints: Workload[], hostname: string, port: number, protocol: "http" | "h2" | "tcp"): Json {
  if (drTlsMode === "DISABLE") return {};
  const meshEndpoints = drTlsMode === "ISTIO_MUTUAL" ? endpoints : endpoints.filter((w) => w.mtls);
  if (drTlsMode !== "ISTIO_MUTUAL" && meshEndpoints.length === 0) return {};
  const identities = [...new Set(meshEndpoints.map(spiffeOf))].sort();
  const tls = {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": `${TLS}UpstreamTlsContext`,
      sni: `outbound_.${port}_._.${hostname}`,
      common_tls_context: {
        // TCP offers Istio's metadata exchange protocol, so the server learns which workload is calling.
        alpn_protocols: protocol === "h2" ? ["h2"] : protocol === "tcp" ? ["istio-peer-exchange", "istio"] : ["http/1.1"],
        tls_certificate_sds_secret_configs: [SDS("default")],
        combined_validation_context: {
          default_validation_context: { match_typed_subject_alt_names: identities.map((id) => ({ san_type: "URI", matcher: { exact: id } })) },
          validation_context_sds_secret_config: SDS("ROOTCA"),
        },
      },
    },
  };
  if (drTlsMode === "ISTIO_MUTUAL") return { transport_socket: tls };
  return {
    transport_socket_matches: [
      { name: "tlsMode-istio", match: { tlsMode: "istio" }, transport_socket: tls },
      { name: "tlsMode-disabled", match: {}, transport_socket: { name: "envoy.transport_sockets.raw_buffer", typed_config: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer" } } },
    ],
  };
}

/** The inbound TLS context: the workload's certificate, client certificates required and checked against the mesh root. */
export function inboundTransportSocket(tcp = false): Json {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": `${TLS}DownstreamTlsContext`,
      require_client_certificate: true,
      common_tls_context: {
        alpn_protocols: tcp ? ["istio-peer-exchange", "h2", "http/1.1"] : ["h2", "http/1.1"],
        tls_certificate_sds_secret_configs: [SDS("default")],
        validation_context_sds_secret_config: SDS("ROOTCA"),
      },
    },
  };
}

/** Filter chains for the inbound listener under a PeerAuthentication mode: TLS only, plaintext only, or both (sniffed). */
export function inboundChains(mode: Mode, mtlsReady: boolean, filters: Json[], tcp = false): Json[] {
  if (!mtlsReady || mode === "DISABLE") return [{ filters }];
  const tls = { filter_chain_match: { transport_protocol: "tls" }, transport_socket: inboundTransportSocket(tcp), filters };
  if (mode === "STRICT") return [tls];
  return [tls, { filter_chain_match: { transport_protocol: "raw_buffer" }, filters }];
}
