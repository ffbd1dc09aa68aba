// The translator: Istio resources + registered workloads + the asking proxy -> that proxy's Envoy resources.
// Pure: no I/O and no clocks, so it is cheap to rerun on every change and easy to test with tables. This is the
// orchestrator; one builder per resource type does the work (builders/): clusters and endpoints, explicit and
// transparent outbound listeners with their routes, the inbound listener, and the gateway's (gateway.ts).
import type { PathNormalizationMode } from "./path-normalization.js";
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import type { ExtAuthzHttpProvider } from "../ext-authz-providers.js";
import type { LocalityLbSetting } from "./locality-lb.js";
import { proxylessGrpc } from "./proxyless-grpc.js";
import type { TracingSettings } from "./tracing.js";
import type { GatewayProblem } from "./gateway-servers.js";
import type { CredentialLookup } from "./gateway-tls.js";
import type { DnsSettings } from "./service-entry-clusters.js";
import type { MeshTelemetry } from "../telemetry-resource.js";
import { PushIndex } from "../push/push-index.js";
import { buildClusters } from "./builders/cluster-builder.js";
import { type Json, withTcpAccessLog } from "./builders/envoy-shapes.js";
import { buildExplicitOutbound } from "./builders/explicit-outbound.js";
import { buildInbound } from "./builders/inbound-builder.js";
import { type OutboundScope, outboundScope } from "./builders/outbound-scope.js";
import { type ProxyContext, proxyContext, settingsKey } from "./builders/proxy-context.js";
import { isGatewayProxy } from "./gateway-servers.js";
import { buildTransparentOutbound } from "./builders/transparent-outbound.js";

export { meshServices } from "../push/push-index.js";

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
   * The push index of this recompute (services, VIPs, resources by kind and host) with its build cache, shared by
   * every proxy; undefined = built for this call alone from `resources` and `workloads`.
   */
  index?: PushIndex;
  /** Filled with every host this proxy's outbound was decided over (see OutboundScope.considered). */
  hostsConsidered?: Set<string>;
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

export function translate(input: TranslateInput): ProxyResources & GatewayExtras {
  const index = input.index ?? new PushIndex(input.resources, input.workloads);
  index.cache.useSettings(settingsKey(input));
  const ctx = proxyContext(input, index);
  if (input.proxyless) return proxylessGrpc(index.services, index.vss, index.drs, input.proxy, ctx.hashFor);
  // A sidecar's outbound is shared by the sidecars alike in what it depends on (a Deployment's replicas); a
  // gateway's depends on the Gateways selecting it, so it is its own.
  const outbound = isGatewayProxy(input.proxy) ? buildOutbound(ctx) : index.cache.whole(`outbound|${ctx.keys.outbound}`, () => buildOutbound(ctx));
  for (const h of outbound.scope.considered) input.hostsConsidered?.add(h);
  const out: ProxyResources & GatewayExtras = { clusters: [...outbound.clusters], endpoints: [...outbound.endpoints], listeners: [...outbound.listeners], routes: [...outbound.routes] };
  shared.set(out, outbound);
  const own = { clusters: [] as Json[], listeners: [] as Json[] };
  buildInbound(ctx, outbound.scope.transparent, own);
  const gateway = outbound.scope.gateway;
  if (gateway) {
    own.listeners.push(...gateway.listeners);
    out.routes.push(...gateway.routes);
    out.secrets = gateway.secrets;
    out.gatewayProblems = gateway.problems;
  }
  // Istio logs TCP connections too when access logs are on: every tcp_proxy gets its side's loggers.
  for (const l of own.listeners) {
    const logs = l.name === "virtualInbound" ? ctx.serverAccessLog : ctx.accessLog;
    if (logs) withTcpAccessLog(l, logs);
  }
  out.clusters.push(...own.clusters);
  out.listeners.push(...own.listeners);
  return out;
}

/**
 * Outputs whose lists begin with a shared outbound's (the same lists for every proxy of its group until a change),
 * so the snapshot encoder walks those once per push rather than once per proxy.
 */
const shared = new WeakMap<ProxyResources, ProxyResources>();
export const sharedLists = new WeakSet<object>();

export function sharedPrefixOf(out: ProxyResources): ProxyResources | undefined {
  return shared.get(out);
}

/** Everything outbound: the clusters and endpoints the proxy may call, and its outbound listeners and routes. */
function buildOutbound(ctx: ProxyContext): ProxyResources & { scope: OutboundScope } {
  const out: ProxyResources = { clusters: [], endpoints: [], listeners: [], routes: [] };
  out.clusters.push(...ctx.telemetryClusters);
  const scope = outboundScope(ctx);
  buildClusters(ctx, scope, out);
  buildExplicitOutbound(ctx, scope, out);
  if (scope.transparent) buildTransparentOutbound(ctx, scope, out);
  if (ctx.accessLog) for (const l of out.listeners) withTcpAccessLog(l, ctx.accessLog);
  for (const list of Object.values(out)) sharedLists.add(list);
  return { ...out, scope };
}
