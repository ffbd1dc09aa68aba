// The translator: Istio resources + registered workloads + the asking proxy -> that proxy's Envoy resources.
// Pure: no I/O and no clocks, so it is cheap to rerun on every change and easy to test with tables.
import { hcmPathNormalization, type PathNormalizationMode } from "./path-normalization.js";
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { type AuthorizationPolicySpec, buildRbacFilters } from "../security/authz-translate.js";
import type { ExtAuthzHttpProvider } from "../ext-authz-providers.js";
import { buildJwtFilter, type RequestAuthenticationSpec } from "../security/authn-translate.js";
import { clusterPolicy, type DestinationRuleSpec, destinationRuleFor, hashPolicies, mergePolicy, type TrafficPolicy } from "./destination-rules.js";
import { DEFAULT_LOCALITY_LB, effectiveLocalityLb, type LocalityLbSetting, localityEndpoints, localityWeighted } from "./locality-lb.js";
import { clusterName, fqdn, isHttp, isHttp2, type Service, servicesOf } from "./services.js";
import { routesFor, type VirtualServiceSpec, virtualServicesFor } from "./virtual-services.js";
import { l4Destinations, outboundL4Listener } from "./l4-routes.js";
import { serviceEntryServices, workloadEntriesOf } from "../registry/service-entries.js";
import { proxylessGrpc } from "./proxyless-grpc.js";
import { inboundChains, peerAuthenticationMode, TLS_MODE_MATCH, upstreamTransport } from "./mtls.js";
import type { TracingSettings } from "./tracing.js";
import { proxyTelemetry } from "../telemetry-resource-envoy.js";
import type { MeshTelemetry } from "../telemetry-resource.js";
import { passthroughClusters, virtualInbound, virtualOutbound } from "./transparent.js";
import { serviceVips, vipHostnames } from "./vips.js";
import { noneResolutionChains } from "./service-entry-listeners.js";
import { egressAllows, outboundTrafficMode, sidecarFor } from "./sidecar-scope.js";
import { gatewayConfig } from "./gateway.js";
import { convertGatewayApi } from "./gateway-api.js";
import { type GatewayProblem, isGatewayProxy } from "./gateway-servers.js";
import type { CredentialLookup } from "./gateway-tls.js";
import { type ClientTls, DEFAULT_DNS, type DnsSettings, originatedTls, serviceEntryDiscovery, serviceEntryMetadata } from "./service-entry-clusters.js";

type Json = Record<string, unknown>;

export interface TranslateInput {
  resources: IstioResource[];
  workloads: Workload[];
  proxy: Workload;
  /** Fetched JSON Web Key Sets by jwksUri. */
  jwks?: (uri: string) => string | undefined;
  rootNamespace?: string;
  /** MeshConfig extensionProviders: the HTTP authorization services CUSTOM policies name. */
  extAuthzProviders?: ExtAuthzHttpProvider[];
  /** A proxyless gRPC client (node metadata GENERATOR=grpc): it gets api listeners for every service. */
  proxyless?: boolean;
  /** Where sidecars send spans, and how many they sample; undefined = no tracing. */
  tracing?: TracingSettings;
  /** MeshConfig accessLogFile/accessLogEncoding: every HTTP connection manager logs each request there. */
  accessLog?: { path: string; json: boolean };
  /** MeshConfig's telemetry extensionProviders and defaultProviders, which Telemetry resources name. */
  telemetry?: MeshTelemetry;
  /** How ServiceEntry hosts with DNS resolution are resolved (resolver servers, refresh rate). */
  dns?: DnsSettings;
  /** MeshConfig outboundTrafficPolicy.mode (a Sidecar's own wins): where transparent traffic to unknown hosts goes. */
  outboundTrafficPolicy?: "ALLOW_ANY" | "REGISTRY_ONLY";
  /** Gateways' credentialName secrets (universal mode: stored by `trellis secret`); none = every such server is reported. */
  credentials?: CredentialLookup;
  /** MeshConfig localityLbSetting; undefined = Istio's default ({enabled: true}). */
  localityLbSetting?: LocalityLbSetting;
  /**
   * EDS endpoints shared by the proxies of one recompute: they depend on the proxy only through its locality (and
   * its labels under failoverPriority), so proxies in one locality share them. Key: see translate().
   */
  edsCache?: Map<string, Json[]>;
  /** MeshConfig pathNormalization; undefined = DEFAULT_PATH_NORMALIZATION. */
  pathNormalization?: PathNormalizationMode;
}

export interface ProxyResources {
  clusters: Json[];
  endpoints: Json[];
  listeners: Json[];
  routes: Json[];
}

/** What a gateway proxy gets beyond its xDS resources. */
export interface GatewayExtras {
  /** SDS secrets for this proxy beyond the mesh's trust bundle: the credentialName certificates of its servers. */
  secrets?: Json[];
  /** What the Gateways selecting it ask for that it cannot serve, and why. */
  gatewayProblems?: GatewayProblem[];
}

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };
const CORS = { name: "envoy.filters.http.cors", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" } };
const FAULT = { name: "envoy.filters.http.fault", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault" } };
const H2 = { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} } } };

function of<T>(resources: IstioResource[], kind: string): Array<IstioResource<T>> {
  return resources.filter((r) => r.kind === kind) as unknown as Array<IstioResource<T>>;
}

function socket(address: string, port: number): Json {
  return { socket_address: { address, port_value: port } };
}

/** The cluster's endpoints grouped by locality, with the locality setting applied relative to `proxy`. */
function endpointsFor(service: Service, port: number, labels: Record<string, string> | undefined, proxy: Workload, locality: LocalityLbSetting | undefined, outlierDetection: boolean): Json[] {
  const matching = service.endpoints.filter((w) => !labels || Object.entries(labels).every(([k, v]) => w.labels[k] === v));
  if (matching.length === 0) return [];
  return localityEndpoints(matching.map((w) => ({
    workload: w,
    endpoint: {
      endpoint: { address: socket(w.address, w.portTargets?.[port] ?? (w.inboundPort || port)) },
      health_status: w.ready ? "HEALTHY" : "UNHEALTHY",
      metadata: { filter_metadata: {
        istio: { workload: `${w.name};${w.namespace};${w.labels.app ?? ""};${w.labels.version ?? ""};` },
        ...(w.mtls ? { [TLS_MODE_MATCH]: { tlsMode: "istio" } } : {}),
      } },
    },
  })), proxy, locality, outlierDetection);
}

/** Every service of the mesh: from registered workloads, then ServiceEntries for hosts no workload serves. */
export function meshServices(workloads: Workload[], resources: IstioResource[]): Map<string, Service> {
  const services = servicesOf(workloads.map(asMeshEndpoint));
  for (const s of services.values()) s.endpoints.push(...workloadEntriesOf(s, resources));
  for (const extra of serviceEntryServices(resources)) {
    if (!services.has(extra.hostname)) services.set(extra.hostname, { name: extra.hostname.split(".")[0], namespace: extra.namespace, hostname: extra.hostname, ports: extra.ports, endpoints: extra.endpoints, entry: extra.entry });
  }
  return services;
}

function withTcpAccessLog(listener: Json, accessLog: Json[]): void {
  for (const chain of (listener.filter_chains as Array<{ filters?: Array<{ typed_config?: Json }> }> | undefined) ?? []) {
    for (const f of chain.filters ?? []) if (f.typed_config?.["@type"] === TCP && f.typed_config.access_log === undefined) f.typed_config.access_log = accessLog;
  }
}

function withHostRewrite(route: Json, hostname: string): Json {
  const action = route.route as Json | undefined;
  if (!action || action.host_rewrite_literal !== undefined || action.auto_host_rewrite !== undefined) return route;
  return { ...route, route: { ...action, host_rewrite_literal: hostname } };
}

export function translate(input: TranslateInput): ProxyResources & GatewayExtras {
  const { proxy } = input;
  const root = input.rootNamespace ?? "istio-system";
  const services = meshServices(input.workloads, input.resources);
  const drs = of<DestinationRuleSpec>(input.resources, "DestinationRule");
  // Gateway API routes, as the Istio Gateways and VirtualServices they stand for (mesh routes included: GAMMA).
  const gatewayApi = convertGatewayApi(input.resources, { services }).resources;
  const vss = of<VirtualServiceSpec>([...input.resources, ...gatewayApi], "VirtualService");
  const out: ProxyResources & GatewayExtras = { clusters: [], endpoints: [], listeners: [], routes: [] };
  const hashFor = (hostname: string, subset: string | undefined, port: number) => {
    const dr = destinationRuleFor(drs, hostname, proxy.namespace);
    return hashPolicies(mergePolicy(dr?.spec.trafficPolicy, dr?.spec.subsets?.find((s) => s.name === subset)?.trafficPolicy, port));
  };

  if (input.proxyless) return proxylessGrpc(services, vss, drs, proxy, hashFor);
  // Tracing and access logs per side (Telemetry resources, else MeshConfig's legacy settings): CLIENT for outbound and gateways, SERVER for inbound.
  const telemetry = proxyTelemetry({ resources: input.resources, proxy, root, services, mesh: input.telemetry, legacyTracing: input.tracing, legacyAccessLog: input.accessLog ? [fileAccessLog(input.accessLog)] : undefined });
  // WebSocket upgrades are enabled as Istio enables them (they pass the filters like any request); path normalization rides with the other HCM-wide settings onto every connection manager (inbound and outbound).
  const hcmCommon = { ...hcmPathNormalization(input.pathNormalization), upgrade_configs: [{ upgrade_type: "websocket" }] };
  const observe = { ...telemetry.client, ...hcmCommon };
  out.clusters.push(...telemetry.clusters);

  // Outbound clusters and endpoints: every service the proxy may call (explicit mode: the upstreams it declared;
  // transparent mode: every service, since the app may dial any of them by name).
  const transparent = proxy.interception === "REDIRECT";
  const wanted = new Set(transparent ? services.keys() : proxy.upstreams.map((u) => fqdn(u.host, proxy.namespace)));
  // The authorization service CUSTOM policies send this workload's requests to.
  const authzPolicies = of<AuthorizationPolicySpec>(input.resources, "AuthorizationPolicy");
  const extAuthz = input.extAuthzProviders?.length && proxy.service ? buildRbacFilters(authzPolicies, { namespace: proxy.namespace, labels: proxy.labels }, root, input.extAuthzProviders).extAuthz : undefined;
  if (extAuthz) wanted.add(extAuthz.hostname);
  for (const route of vss) for (const h of route.spec.http ?? []) for (const d of [...(h.route ?? []).map((x) => x.destination), ...(h.mirror ? [h.mirror] : [])]) {
    if (wanted.has(fqdn((route.spec.hosts ?? [])[0] ?? "", route.metadata.namespace ?? "default"))) wanted.add(fqdn(d.host, route.metadata.namespace ?? "default"));
  }
  // tcp and tls routes of the VirtualServices that route a wanted service (any of their hosts, wildcards included).
  for (const hostname of [...wanted]) for (const vs of virtualServicesFor(vss, hostname, proxy.namespace)) {
    for (const host of l4Destinations(vs)) wanted.add(fqdn(host, vs.metadata.namespace ?? "default"));
  }
  // A gateway proxy: listeners from the Gateways selecting it, clusters for what their VirtualServices route to.
  const gateway = isGatewayProxy(proxy) ? gatewayConfig({
    resources: [...input.resources, ...gatewayApi], proxy, services, vss, hashPolicies: hashFor, credentials: input.credentials ?? (() => ({ error: "this control plane stores no secrets" })),
    httpFilters: gatewayHttpFilters(input, authzPolicies, root), observe,
  }) : undefined;
  for (const h of gateway?.destinations ?? []) wanted.add(h);
  // The Sidecar resource's egress hosts limit what the proxy is told about.
  const sidecar = sidecarFor(input.resources, proxy, root);
  const hidden = new Set<string>();
  for (const hostname of wanted) {
    const service = services.get(hostname);
    if (service && !egressAllows(sidecar, proxy.namespace, service)) hidden.add(hostname);
  }
  for (const h of hidden) wanted.delete(h);
  for (const hostname of [...wanted].sort()) {
    const service = services.get(hostname);
    if (!service) continue;
    const dr = destinationRuleFor(drs, hostname, proxy.namespace);
    for (const port of service.ports) {
      if (!egressAllows(sidecar, proxy.namespace, service, port.port)) continue;
      const variants: Array<{ subset: string; labels?: Record<string, string>; merged?: TrafficPolicy }> = [
        { subset: "", merged: mergePolicy(dr?.spec.trafficPolicy, undefined, port.port) },
        ...(dr?.spec.subsets ?? []).map((s) => ({ subset: s.name, labels: s.labels, merged: mergePolicy(dr?.spec.trafficPolicy, s.trafficPolicy, port.port) })),
      ];
      for (const v of variants) {
        const name = clusterName("outbound", port.port, v.subset, hostname);
        const endpoints = service.endpoints.filter((w) => !v.labels || Object.entries(v.labels).every(([k, x]) => w.labels[k] === x));
        const tls: ClientTls | undefined = v.merged?.tls;
        // Auto mTLS only toward endpoints in the mesh: a MESH_EXTERNAL host gets TLS only when a DestinationRule asks.
        const transport = tls?.mode === "SIMPLE" || tls?.mode === "MUTUAL" ? originatedTls(tls, hostname)
          : upstreamTransport(tls?.mode, service.entry?.external ? [] : endpoints, hostname, port.port, isHttp2(port) ? "h2" : isHttp(port) ? "http" : "tcp");
        const common = { ...clusterPolicy(v.merged), ...(isHttp2(port) ? { typed_extension_protocol_options: H2 } : {}), ...transport, ...serviceEntryMetadata(service) };
        const discovery = serviceEntryDiscovery(service, port, name, v.labels, input.dns ?? DEFAULT_DNS);
        if (discovery) {
          out.clusters.push({ name, ...common, ...discovery });
          continue;
        }
        const locality = effectiveLocalityLb(input.localityLbSetting ?? DEFAULT_LOCALITY_LB, v.merged?.loadBalancer?.localityLbSetting);
        const outlier = !!v.merged?.outlierDetection;
        const weighted = localityWeighted(locality, outlier) ? { common_lb_config: { locality_weighted_lb_config: {} } } : {};
        out.clusters.push({ name, type: "EDS", eds_cluster_config: { eds_config: { ads: {} }, service_name: name }, ...common, ...weighted });
        const key = `${name}\0${JSON.stringify(v.labels ?? {})}\0${JSON.stringify(locality ?? null)}\0${outlier}\0${proxy.locality ?? ""}\0${locality?.failoverPriority?.length ? JSON.stringify(proxy.labels) : ""}`;
        let assignment = input.edsCache?.get(key);
        if (!assignment) {
          assignment = endpointsFor(service, port.port, v.labels, proxy, locality, outlier);
          input.edsCache?.set(key, assignment);
        }
        out.endpoints.push({ cluster_name: name, endpoints: assignment });
      }
    }
  }

  // Explicit-mode outbound listeners: one local port per declared upstream.
  for (const u of proxy.upstreams) {
    const hostname = fqdn(u.host, proxy.namespace);
    const known = services.get(hostname);
    // A Sidecar egress listener with a port scopes its hosts to that port.
    const portHidden = !!known && !hidden.has(hostname) && !egressAllows(sidecar, proxy.namespace, known, u.port);
    const service = hidden.has(hostname) || portHidden ? undefined : known;
    const port = service?.ports.find((p) => p.port === u.port) ?? { port: u.port, protocol: "HTTP" };
    const name = `outbound_127.0.0.1_${u.localPort}`;
    if (!service) {
      // Not registered (yet): answer 503 rather than refuse the connection, so apps see a mesh error.
      const routeName = `${name}|unavailable`;
      const why = hidden.has(hostname) ? `${hostname} is not visible to this workload: the Sidecar ${sidecar!.metadata.namespace}/${sidecar!.metadata.name} does not list it in egress.hosts`
        : portHidden ? `${hostname} is not visible to this workload on port ${u.port}: the Sidecar ${sidecar!.metadata.namespace}/${sidecar!.metadata.name} lists it only in egress listeners of other ports`
          : `${hostname} has no registered endpoints`;
      out.routes.push({ name: routeName, virtual_hosts: [{ name: hostname, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 503, body: { inline_string: `no healthy upstream: ${why}` } } }] }] });
      out.listeners.push(httpListener(name, "127.0.0.1", u.localPort, routeName, `outbound_${u.localPort}`, [ROUTER], observe));
      continue;
    }
    if (!isHttp(port)) {
      // TCP and TLS ports: the VirtualServices' tcp or tls routes as filter chains, else the service's own cluster.
      out.listeners.push({ name, traffic_direction: "OUTBOUND", address: socket("127.0.0.1", u.localPort), ...outboundL4Listener(vss, { service, port, proxy, services }) });
      continue;
    }
    const routeName = `${u.port}|${hostname}|${u.localPort}`;
    let routes = routesFor(vss, { service, port: u.port, proxy, services, hashPolicies: hashFor });
    // The app dialled a local port, so its Host names that port; a service outside the mesh is asked by its own name
    // (virtual hosting, and the SNI of TLS originated to it), unless a VirtualService rewrites the authority itself.
    if (service.entry?.external) routes = routes.map((r) => withHostRewrite(r, u.port === 80 || u.port === 443 ? hostname : `${hostname}:${u.port}`));
    out.routes.push({ name: routeName, virtual_hosts: [{ name: `${hostname}:${u.port}`, domains: ["*"], routes }] });
    out.listeners.push(httpListener(name, "127.0.0.1", u.localPort, routeName, `outbound_${u.localPort}`, [CORS, FAULT, ROUTER], observe));
  }

  // Transparent-mode outbound: a listener per service VIP and port (not bound: 15001 hands connections over).
  if (transparent) {
    const vips = serviceVips(vipHostnames(services));
    const mode = outboundTrafficMode(sidecar, input.outboundTrafficPolicy);
    const unaddressed = [...wanted].sort().map((h) => services.get(h)).filter((s): s is Service => s?.entry?.resolution === "NONE")
      .flatMap((service) => service.ports.filter((port) => egressAllows(sidecar, proxy.namespace, service, port.port)).map((port) => ({ service, port })));
    out.clusters.push(...passthroughClusters());
    out.listeners.push(virtualOutbound(mode, noneResolutionChains(unaddressed, mode)));
    for (const hostname of [...wanted].sort()) {
      const service = services.get(hostname);
      const vip = vips.get(hostname);
      if (!service || !vip) continue;
      for (const port of service.ports) {
        if (!egressAllows(sidecar, proxy.namespace, service, port.port)) continue;
        const name = `${vip}_${port.port}`;
        if (!isHttp(port)) {
          out.listeners.push({ name, traffic_direction: "OUTBOUND", address: socket(vip, port.port), bind_to_port: false, ...outboundL4Listener(vss, { service, port, proxy, services }) });
          continue;
        }
        const routeName = `${port.port}|${hostname}|${vip}`;
        out.routes.push({ name: routeName, virtual_hosts: [{ name: `${hostname}:${port.port}`, domains: ["*"], routes: routesFor(vss, { service, port: port.port, proxy, services, hashPolicies: hashFor }) }] });
        out.listeners.push({ ...httpListener(name, vip, port.port, routeName, `outbound_${vip}_${port.port}`, [CORS, FAULT, ROUTER], observe), bind_to_port: false });
      }
    }
  }

  // Inbound: the sidecar's listener peers dial, in front of the app, with the workload's security filters.
  if (proxy.service && proxy.inboundPort && proxy.appPort) {
    const port = proxy.servicePorts[0] ?? { port: proxy.appPort, protocol: "HTTP" };
    const inboundCluster = clusterName("inbound", port.port, "", "");
    out.clusters.push({ name: inboundCluster, type: "STATIC", connect_timeout: "10s", load_assignment: { cluster_name: inboundCluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket("127.0.0.1", proxy.appPort) } }] }] }, ...(isHttp2(port) ? { typed_extension_protocol_options: H2 } : {}) });
    const identity = { namespace: proxy.namespace, labels: proxy.labels };
    const rbac = buildRbacFilters(authzPolicies, identity, root, input.extAuthzProviders);
    // Other ports of a transparent workload pass through under the workload-wide mode (port 0: no port-level mode)
    // and its authorization policies.
    const passthrough = (filters: Json[]) => inboundChains(peerAuthenticationMode(input.resources, proxy, 0, root), proxy.mtls, [...rbac.networkFilters, ...filters], true);
    if (isHttp(port)) {
      const jwt = buildJwtFilter(of<RequestAuthenticationSpec>(input.resources, "RequestAuthentication"), identity, input.jwks ?? (() => undefined), root);
      const filters = [...(jwt.httpFilter ? [jwt.httpFilter] : []), ...rbac.httpFilters, ROUTER];
      const hcm = [{ name: "envoy.filters.network.http_connection_manager", typed_config: {
        "@type": HCM, stat_prefix: `inbound_${proxy.address}_${port.port}`,
        route_config: { name: `inbound|${port.port}||`, virtual_hosts: [{ name: `inbound|http|${port.port}`, domains: ["*"], routes: [{ name: "default", match: { prefix: "/" }, route: { cluster: inboundCluster, timeout: "0s" }, decorator: { operation: `${fqdn(proxy.service, proxy.namespace)}:${port.port}/*` } }] }] },
        http_filters: filters,
        ...telemetry.server, ...hcmCommon,
      } }];
      const chains = inboundChains(peerAuthenticationMode(input.resources, proxy, port.port, root), proxy.mtls, hcm);
      // Captured connections keep the port they were sent to: the pod's (a Service's targetPort), not the Service's.
      out.listeners.push(transparent ? virtualInbound([{ port: proxy.appPort, chains }], passthrough) : { name: "virtualInbound", traffic_direction: "INBOUND", address: socket(proxy.address, proxy.inboundPort), filter_chains: chains });
    } else {
      const filters = [...rbac.networkFilters, { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP, stat_prefix: inboundCluster, cluster: inboundCluster } }];
      const chains = inboundChains(peerAuthenticationMode(input.resources, proxy, port.port, root), proxy.mtls, filters, true);
      out.listeners.push(transparent ? virtualInbound([{ port: proxy.appPort, chains }], passthrough) : { name: "virtualInbound", traffic_direction: "INBOUND", address: socket(proxy.address, proxy.inboundPort), filter_chains: chains });
    }
  }
  if (gateway) {
    out.listeners.push(...gateway.listeners);
    out.routes.push(...gateway.routes);
    out.secrets = gateway.secrets;
    out.gatewayProblems = gateway.problems;
  }
  // Istio logs TCP connections too when access logs are on: every tcp_proxy gets the same logger.
  for (const l of out.listeners) {
    const logs = l.name === "virtualInbound" ? telemetry.server.access_log : telemetry.client.access_log;
    if (logs) withTcpAccessLog(l, logs);
  }
  return out;
}

/** A gateway's HTTP filters: request authentication and authorization policies selecting it, then Istio's defaults. */
function gatewayHttpFilters(input: TranslateInput, authzPolicies: Array<IstioResource<AuthorizationPolicySpec>>, root: string): Json[] {
  const identity = { namespace: input.proxy.namespace, labels: input.proxy.labels };
  const jwt = buildJwtFilter(of<RequestAuthenticationSpec>(input.resources, "RequestAuthentication"), identity, input.jwks ?? (() => undefined), root);
  const rbac = buildRbacFilters(authzPolicies, identity, root, input.extAuthzProviders);
  return [...(jwt.httpFilter ? [jwt.httpFilter] : []), ...rbac.httpFilters, CORS, FAULT, ROUTER];
}

/** Istio's gateways carry no tlsMode label: sidecars reach them in plaintext unless a DestinationRule says ISTIO_MUTUAL. */
function asMeshEndpoint(w: Workload): Workload {
  return isGatewayProxy(w) && w.mtls ? { ...w, mtls: false } : w;
}

/** Envoy's file access logger: its default text format, or JSON with Trellis' fields. */
function fileAccessLog(log: { path: string; json: boolean }): Json {
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

function httpListener(name: string, address: string, port: number, routeName: string, statPrefix: string, filters: Json[], observe: Json): Json {
  return {
    name,
    traffic_direction: "OUTBOUND",
    address: socket(address, port),
    filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: statPrefix, rds: { route_config_name: routeName, config_source: { ads: {} } }, http_filters: filters, ...observe } }] }],
  };
}
