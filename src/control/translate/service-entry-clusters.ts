// Clusters for ServiceEntry hosts, as Istio's pilot builds them: resolution DNS is a STRICT_DNS cluster over the
// endpoints' addresses (the hosts themselves when there are none), DNS_ROUND_ROBIN a LOGICAL_DNS cluster over one
// of them, NONE an ORIGINAL_DST cluster (traffic goes where the app sent it); STATIC stays EDS. MESH_EXTERNAL hosts
// are reached in plaintext or with the DestinationRule's SIMPLE/MUTUAL TLS, never with auto mTLS, and their
// clusters say so in their metadata so proxies neither send peer metadata to them nor read the host as name.namespace.
import type { ServicePort } from "../registry/registry.js";
import type { Service } from "./services.js";

type Json = Record<string, unknown>;

/** How DNS clusters resolve: `resolvers` empty = the proxy's system resolver; refresh as MeshConfig dnsRefreshRate. */
export interface DnsSettings {
  resolvers: Array<{ address: string; port: number }>;
  /** Proto3 JSON duration; Istio's default is 60s (with respect_dns_ttl, the records' TTL wins). */
  refreshRate: string;
}

export const DEFAULT_DNS: DnsSettings = { resolvers: [], refreshRate: "60s" };

/** The DestinationRule TLS settings that matter for hosts outside the mesh. */
export interface ClientTls {
  mode?: string;
  sni?: string;
  caCertificates?: string;
  clientCertificate?: string;
  privateKey?: string;
  subjectAltNames?: string[];
}

const CARES = "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig";
const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

function matches(labels: Record<string, string> | undefined, have: Record<string, string> | undefined): boolean {
  return !labels || Object.entries(labels).every(([k, v]) => have?.[k] === v);
}

/**
 * Cluster discovery fields for a ServiceEntry host whose resolution is not served by EDS (DNS, DNS_ROUND_ROBIN,
 * NONE), or undefined: STATIC entries and services without an entry use EDS like every other service.
 */
export function serviceEntryDiscovery(service: Service, port: ServicePort, name: string, subsetLabels: Record<string, string> | undefined, dns: DnsSettings): Json | undefined {
  const entry = service.entry;
  if (!entry) return undefined;
  if (entry.resolution === "NONE") return { type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED" };
  if (entry.resolution !== "DNS" && entry.resolution !== "DNS_ROUND_ROBIN") return undefined;
  const declared = entry.ports.find((p) => p.number === port.port);
  const targetPort = declared?.targetPort ?? port.port;
  let targets = entry.endpoints.length === 0
    ? [{ address: service.hostname, port: targetPort, weight: undefined as number | undefined }]
    : entry.endpoints.filter((e) => matches(subsetLabels, e.labels)).map((e) => ({ address: e.address, port: e.ports?.[declared?.name ?? ""] ?? targetPort, weight: (e as { weight?: number }).weight }));
  // Envoy's LOGICAL_DNS takes one endpoint; Istio uses the first.
  if (entry.resolution === "DNS_ROUND_ROBIN") targets = targets.slice(0, 1);
  return {
    type: entry.resolution === "DNS" ? "STRICT_DNS" : "LOGICAL_DNS",
    dns_lookup_family: "V4_ONLY",
    dns_refresh_rate: dns.refreshRate,
    respect_dns_ttl: true,
    ...(dns.resolvers.length ? { typed_dns_resolver_config: { name: "envoy.network.dns_resolver.cares", typed_config: { "@type": CARES, resolvers: dns.resolvers.map((r) => ({ socket_address: { address: r.address, port_value: r.port } })) } } } : {}),
    load_assignment: {
      cluster_name: name,
      endpoints: targets.length ? [{ lb_endpoints: targets.map((t) => ({ endpoint: { address: { socket_address: { address: t.address, port_value: t.port } } }, ...(t.weight ? { load_balancing_weight: t.weight } : {}) })) }] : [],
    },
  };
}

/** Istio's cluster metadata for a ServiceEntry host: the service it serves, and `external` for MESH_EXTERNAL. */
export function serviceEntryMetadata(service: Service): Json {
  if (!service.entry) return {};
  const istio: Json = { services: [{ host: service.hostname, name: service.hostname, namespace: service.namespace }] };
  if (service.entry.external) istio.external = true;
  return { metadata: { filter_metadata: { istio } } };
}

/**
 * A DestinationRule's SIMPLE or MUTUAL TLS origination (files, as Istio's caCertificates/clientCertificate/
 * privateKey name them; no caCertificates: the proxy's system roots). SNI: the rule's, else the host; the server's
 * certificate must name subjectAltNames, else the SNI.
 */
export function originatedTls(tls: ClientTls, hostname: string): Json {
  const sni = tls.sni ?? (hostname.includes("*") ? undefined : hostname);
  const validation: Json = {};
  if (tls.caCertificates) validation.trusted_ca = { filename: tls.caCertificates };
  // Without subjectAltNames the server must be the host it was asked for (Istio verifies against the SNI).
  const sans = tls.subjectAltNames?.length ? tls.subjectAltNames : sni ? [sni] : [];
  if (sans.length) validation.match_subject_alt_names = sans.map((exact) => ({ exact }));
  const common: Json = {
    // Always a validation_context, even empty (the system's roots): a proxy verifies nothing without one, as Envoy.
    validation_context: validation,
    ...(tls.mode === "MUTUAL" && tls.clientCertificate && tls.privateKey ? { tls_certificates: [{ certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } }] } : {}),
  };
  return { transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": TLS, ...(sni ? { sni } : {}), common_tls_context: common } } };
}
