// What every builder needs to know about the proxy being translated, worked out once per proxy: the push index,
// the root namespace, the proxy's HCM-wide settings (tracing, access logs, path normalization, WebSocket), the hash
// policies for a destination, and the keys under which its shared resources are cached.
import type { AuthorizationPolicySpec } from "../../security/authz-translate.js";
import type { IstioResource } from "../../../api/resource.js";
import type { Workload } from "../../registry/registry.js";
import type { PushIndex } from "../../push/push-index.js";
import { destinationRuleFor, hashPolicies, mergePolicy } from "../destination-rules.js";
import { hcmPathNormalization } from "../path-normalization.js";
import { proxyTelemetry } from "../../telemetry-resource-envoy.js";
import type { TranslateInput } from "../translate.js";
import { fileAccessLog, type Json } from "./envoy-shapes.js";

export interface ProxyContext {
  input: TranslateInput;
  index: PushIndex;
  proxy: Workload;
  root: string;
  /** HCM settings for the proxy's outbound and gateway connection managers (the CLIENT side of Telemetry). */
  observe: Json;
  /** The same for its inbound (the SERVER side). */
  serverObserve: Json;
  /** Access loggers per side, also given to TCP proxies. */
  accessLog?: Json[];
  serverAccessLog?: Json[];
  /** Clusters the telemetry providers need (the OTLP collector, ...). */
  telemetryClusters: Json[];
  authzPolicies: Array<IstioResource<AuthorizationPolicySpec>>;
  hashFor(hostname: string, subset: string | undefined, port: number): Json[];
  /** Cache keys: proxies equal in these get the same shared resources. */
  keys: { scope: string; observe: string; outbound: string };
}

export function proxyContext(input: TranslateInput, index: PushIndex): ProxyContext {
  const { proxy } = input;
  const root = input.rootNamespace ?? "istio-system";
  // Tracing and access logs per side (Telemetry resources, else MeshConfig's legacy settings): CLIENT for outbound and gateways, SERVER for inbound.
  const telemetry = proxyTelemetry({ resources: index.resources, proxy, root, services: index.services, mesh: input.telemetry, legacyTracing: input.tracing, legacyAccessLog: input.accessLog ? [fileAccessLog(input.accessLog)] : undefined });
  // WebSocket upgrades are enabled as Istio enables them (they pass the filters like any request); path normalization rides with the other HCM-wide settings onto every connection manager (inbound and outbound).
  const hcmCommon = { ...hcmPathNormalization(input.pathNormalization), upgrade_configs: [{ upgrade_type: "websocket" }] };
  const observe = { ...telemetry.client, ...hcmCommon };
  const accessLog = telemetry.client.access_log as Json[] | undefined;
  const hashFor = (hostname: string, subset: string | undefined, port: number) => {
    const dr = destinationRuleFor(index.drCandidates(hostname), hostname, proxy.namespace);
    return hashPolicies(mergePolicy(dr?.spec.trafficPolicy, dr?.spec.subsets?.find((s) => s.name === subset)?.trafficPolicy, port));
  };
  return {
    input, index, proxy, observe, accessLog, hashFor, root,
    serverObserve: { ...telemetry.server, ...hcmCommon }, serverAccessLog: telemetry.server.access_log as Json[] | undefined, telemetryClusters: telemetry.clusters,
    authzPolicies: index.of<AuthorizationPolicySpec>("AuthorizationPolicy"),
    // Routes and L4 listeners depend on the proxy through its namespace (exportTo, DestinationRule lookup) and its
    // labels (sourceLabels); outbound HTTP listeners through its HCM settings (tracing tags name the workload).
    keys: {
      scope: index.cache.token(`${proxy.namespace}\0${JSON.stringify(proxy.labels)}`),
      observe: index.cache.token(JSON.stringify(observe)),
      // The whole outbound also depends on the mode, the declared upstreams, the locality (endpoints) and whether
      // the workload serves (CUSTOM authorization's provider).
      outbound: index.cache.token(JSON.stringify([proxy.namespace, proxy.labels, !!proxy.service, proxy.interception, proxy.upstreams, proxy.locality ?? "", observe, telemetry.clusters])),
    },
  };
}

/** The mesh-wide settings every cached resource depends on: a change to them makes nothing reusable. */
export function settingsKey(input: TranslateInput): string {
  return JSON.stringify([input.dns, input.localityLbSetting, input.pathNormalization, input.accessLog, input.tracing, input.outboundTrafficPolicy, input.rootNamespace, input.extAuthzProviders, input.telemetry]);
}
