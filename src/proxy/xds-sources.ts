// Which xDS streams a bootstrap asks for, and where each goes: ADS (dynamic_resources.ads_config) carries every type
// unless lds_config / cds_config names another source; an lds_config or cds_config with api_config_source gets its
// own stream on that type's service (Envoy's ListenerDiscoveryService, ClusterDiscoveryService), and, without ADS,
// the routes and endpoints they name follow on RDS and EDS streams to the same server. api_type picks the protocol:
// GRPC state of the world, DELTA_GRPC incremental; REST and the rest are refused by name (config/field-reasons.ts).
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import type { Bootstrap__Output } from "../xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import type { ApiConfigSource__Output } from "../xds/generated/envoy/config/core/v3/ApiConfigSource.js";
import type { ConfigSource__Output } from "../xds/generated/envoy/config/core/v3/ConfigSource.js";
import { AdsClient, type AdsClientOptions } from "../xds/ads-client.js";
import type { ResourceKind } from "../xds/resource.js";
import type { XdsClientHandlers } from "../xds/xds-client-protocol.js";
import type { XdsProtocol } from "../xds/xds-services.js";
import { splitPem } from "../identity/x509.js";
import { buildUpstreamTls } from "./upstream/upstream-tls.js";
import type { SecretLookup } from "./tls/tls-context.js";

export interface XdsSourceDeps extends XdsClientHandlers {
  secrets: SecretLookup;
  /** The mesh's current trust bundle (SDS ROOTCA), trusted beside the bootstrap's CA for the xDS server. */
  meshRoots(): string;
  /** The bootstrap token, sent as a bearer token on every stream. */
  token?: () => string;
  onConnectionState?: AdsClientOptions["onConnectionState"];
}

/** The union of two PEM bundles, each certificate once. */
export function mergeRoots(a: string, b: string): string {
  return [...new Set([...splitPem(a), ...splitPem(b)])].join("");
}

type Channel = Pick<AdsClientOptions, "target" | "credentials" | "channelOptions">;

/**
 * Where a stream goes and how: google_grpc's target_uri (and its ssl_credentials), or the static cluster envoy_grpc
 * names (and its TLS transport socket: trusted CA, SNI, client certificate).
 */
function xdsChannel(b: Bootstrap__Output, source: ApiConfigSource__Output, where: string, secrets: SecretLookup, meshRoots: () => string): Channel {
  if (source.grpc_services.length > 1) throw new Error(`${where}.grpc_services: give one xDS server (replicas are the endpoints of its envoy_grpc cluster)`);
  const svc = source.grpc_services[0];
  if (!svc) throw new Error(`${where}.grpc_services: name the xDS server (envoy_grpc.cluster_name or google_grpc.target_uri)`);
  if (svc.google_grpc?.target_uri) {
    const ssl = svc.google_grpc.channel_credentials?.ssl_credentials;
    if (!ssl) return { target: svc.google_grpc.target_uri };
    const read = (d: typeof ssl.root_certs) => (d?.inline_string || d?.inline_bytes?.length ? Buffer.from(d.inline_string || d.inline_bytes!) : d?.filename ? readFileSync(d.filename) : null);
    const creds = grpc.credentials.createSsl(read(ssl.root_certs), read(ssl.private_key), read(ssl.cert_chain));
    return { target: svc.google_grpc.target_uri, credentials: () => creds };
  }
  const name = svc.envoy_grpc?.cluster_name;
  const cluster = b.static_resources?.clusters.find((c) => c.name === name);
  // Every endpoint of the cluster is a control-plane replica the client fails over between.
  const socks = (cluster?.load_assignment?.endpoints ?? []).flatMap((e) => e.lb_endpoints.map((l) => l.endpoint?.address?.socket_address)).filter((a) => !!a);
  if (socks.length === 0) throw new Error(`${where}.grpc_services[0].envoy_grpc.cluster_name: "${name}" must be a static cluster with an endpoint`);
  const target = socks.map((sock) => `${sock!.address.includes(":") ? `[${sock!.address}]` : sock!.address}:${sock!.port_value}`);
  const tls = cluster!.transport_socket ? buildUpstreamTls(cluster!.transport_socket, secrets, `static_resources.clusters[${name}]`) : undefined;
  // envoy_grpc.authority: the :authority the xDS server sees (Envoy's default: the cluster's name).
  const authority = svc.envoy_grpc?.authority ? { "grpc.default_authority": svc.envoy_grpc.authority } : {};
  if (!tls) return { target, channelOptions: authority };
  const m = tls.material();
  if (!m.ca) throw new Error(`static_resources.clusters[${name}].transport_socket: the xDS server's TLS needs a trusted CA (validation_context.trusted_ca)`);
  // The configured CA plus the mesh's current trust bundle: after a root rotation the control plane's certificate
  // comes from the new root, which the bootstrap's file may predate.
  let last: { roots: string; creds: grpc.ChannelCredentials } | undefined;
  const credentials = () => {
    const roots = mergeRoots(m.ca!, meshRoots());
    if (last?.roots !== roots) last = { roots, creds: grpc.credentials.createSsl(Buffer.from(roots), m.key ? Buffer.from(m.key) : null, m.cert ? Buffer.from(m.cert) : null) };
    return last.creds;
  };
  return { target, credentials, channelOptions: { ...authority, ...(tls.servername ? { "grpc.ssl_target_name_override": tls.servername } : {}) } };
}

function protocolOf(source: ApiConfigSource__Output, where: string, aggregated: boolean): XdsProtocol {
  const t = String(source.api_type);
  const [sotw, delta] = aggregated ? [["GRPC", "AGGREGATED_GRPC"], ["DELTA_GRPC", "AGGREGATED_DELTA_GRPC"]] : [["GRPC"], ["DELTA_GRPC"]];
  if (sotw.includes(t)) return "sotw";
  if (delta.includes(t)) return "delta";
  throw new Error(`${where}.api_type: ${t} ${aggregated ? "" : "belongs in dynamic_resources.ads_config; here use GRPC or DELTA_GRPC"}`.trim());
}

interface Stream {
  where: string;
  source: ApiConfigSource__Output;
  aggregated: boolean;
  only?: ResourceKind;
  except?: ResourceKind[];
}

/** The streams the bootstrap's dynamic_resources ask for (files are xds-files.ts's). */
function plan(b: Bootstrap__Output): Stream[] {
  const dr = b.dynamic_resources;
  if (!dr) return [];
  const ads = dr.ads_config;
  const own: Array<[ResourceKind, ConfigSource__Output | null, string, ResourceKind]> = [["listener", dr.lds_config, "lds_config", "route"], ["cluster", dr.cds_config, "cds_config", "endpoint"]];
  const streams: Stream[] = [];
  const elsewhere: ResourceKind[] = [];
  for (const [kind, cs, field, child] of own) {
    const spec = cs?.config_source_specifier;
    if (spec === "ads" && !ads) throw new Error(`dynamic_resources.${field}.ads: there is no dynamic_resources.ads_config to carry it; add one, or use api_config_source`);
    if (spec === "path" || spec === "path_config_source") elsewhere.push(kind);
    if (spec !== "api_config_source") continue;
    elsewhere.push(kind);
    const where = `dynamic_resources.${field}.api_config_source`;
    streams.push({ where, source: cs!.api_config_source!, aggregated: false, only: kind });
    // Without ADS, what the type's resources name comes from the server that sent them (ConfigSource self).
    if (!ads) streams.push({ where, source: cs!.api_config_source!, aggregated: false, only: child });
  }
  if (ads) streams.unshift({ where: "dynamic_resources.ads_config", source: ads, aggregated: true, except: elsewhere });
  return streams;
}

/** Starts the bootstrap's xDS streams; each applied CDS or LDS update refreshes every stream's EDS/RDS names. */
export function startXdsClients(b: Bootstrap__Output, deps: XdsSourceDeps): AdsClient[] {
  const initialMetadata = (source: ApiConfigSource__Output) => source.grpc_services[0]?.initial_metadata ?? [];
  const clients: AdsClient[] = [];
  for (const s of plan(b)) {
    const channel = xdsChannel(b, s.source, s.where, deps.secrets, deps.meshRoots);
    const headers = initialMetadata(s.source);
    const client: AdsClient = new AdsClient({
      ...channel,
      protocol: protocolOf(s.source, s.where, s.aggregated),
      only: s.only,
      except: s.except,
      // The bootstrap token proves who this proxy is to the control plane, as it does to the CA.
      metadata: deps.token || headers.length ? () => {
        const md = new grpc.Metadata();
        for (const h of headers) md.add(h.key.toLowerCase(), h.value);
        if (deps.token) md.set("authorization", `Bearer ${deps.token()}`);
        return md;
      } : undefined,
      node: deps.node,
      subscriptions: deps.subscriptions,
      apply: async (kind, resources, removed, version) => {
        const r = await deps.apply(kind, resources, removed, version);
        if (r.ok && (kind === "cluster" || kind === "listener")) for (const c of clients) if (c !== client) c.updateSubscriptions();
        return r;
      },
      onConnectionState: deps.onConnectionState,
    });
    clients.push(client);
  }
  for (const c of clients) c.start();
  return clients;
}
