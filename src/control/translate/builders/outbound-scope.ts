// Which hosts a proxy is told about: in explicit mode the upstreams it declared, in transparent mode every service
// (the app may dial any by name); plus its ext_authz service, what the VirtualServices of those hosts route and
// mirror to, what a gateway's bound VirtualServices send to; minus what its Sidecar resource's egress hides.
import { buildRbacFilters } from "../../security/authz-translate.js";
import { buildJwtFilter, type RequestAuthenticationSpec } from "../../security/authn-translate.js";
import { gatewayConfig, type GatewayOutput } from "../gateway.js";
import { isGatewayProxy } from "../gateway-servers.js";
import { l4Destinations } from "../l4-routes.js";
import { fqdn } from "../services.js";
import { egressAllows, sidecarFor, type SidecarSpec } from "../sidecar-scope.js";
import type { IstioResource } from "../../../api/resource.js";
import { virtualServicesFor } from "../virtual-services.js";
import { CORS, FAULT, type Json, ROUTER } from "./envoy-shapes.js";
import type { ProxyContext } from "./proxy-context.js";

export interface OutboundScope {
  transparent: boolean;
  /** Hosts the proxy gets clusters (and, in transparent mode, listeners) for, sorted. */
  hosts: string[];
  /** Hosts it would get were it not for its Sidecar resource. */
  hidden: Set<string>;
  /** Every host considered, hidden ones included: a change to any other host cannot change this proxy's outbound. */
  considered: Set<string>;
  sidecar?: IstioResource<SidecarSpec>;
  gateway?: GatewayOutput;
}

export function outboundScope(ctx: ProxyContext): OutboundScope {
  const { proxy, index, input, root } = ctx;
  const transparent = proxy.interception === "REDIRECT";
  const wanted = new Set(transparent ? index.services.keys() : proxy.upstreams.map((u) => fqdn(u.host, proxy.namespace)));
  // The authorization service CUSTOM policies send this workload's requests to.
  const extAuthz = input.extAuthzProviders?.length && proxy.service ? buildRbacFilters(ctx.authzPolicies, { namespace: proxy.namespace, labels: proxy.labels }, root, input.extAuthzProviders).extAuthz : undefined;
  if (extAuthz) wanted.add(extAuthz.hostname);
  for (const route of index.vss) for (const h of route.spec.http ?? []) for (const d of [...(h.route ?? []).map((x) => x.destination), ...(h.mirror ? [h.mirror] : [])]) {
    if (wanted.has(fqdn((route.spec.hosts ?? [])[0] ?? "", route.metadata.namespace ?? "default"))) wanted.add(fqdn(d.host, route.metadata.namespace ?? "default"));
  }
  // tcp and tls routes of the VirtualServices that route a wanted service (any of their hosts, wildcards included).
  for (const hostname of [...wanted]) for (const vs of virtualServicesFor(index.vsCandidates(hostname), hostname, proxy.namespace)) {
    for (const host of l4Destinations(vs)) wanted.add(fqdn(host, vs.metadata.namespace ?? "default"));
  }
  // A gateway proxy: listeners from the Gateways selecting it, clusters for what their VirtualServices route to.
  const gateway = isGatewayProxy(proxy) ? gatewayConfig({
    resources: index.withGatewayApi, proxy, services: index.services, vss: index.vss, hashPolicies: ctx.hashFor,
    credentials: input.credentials ?? (() => ({ error: "this control plane stores no secrets" })), httpFilters: gatewayHttpFilters(ctx), observe: ctx.observe,
  }) : undefined;
  for (const h of gateway?.destinations ?? []) wanted.add(h);
  const considered = new Set(wanted);
  // The Sidecar resource's egress hosts limit what the proxy is told about.
  const sidecar = sidecarFor(index.of("Sidecar"), proxy, root);
  const hidden = new Set<string>();
  for (const hostname of wanted) {
    const service = index.services.get(hostname);
    if (service && !egressAllows(sidecar, proxy.namespace, service)) hidden.add(hostname);
  }
  for (const h of hidden) wanted.delete(h);
  return { transparent, hosts: [...wanted].sort(), hidden, considered, sidecar, gateway };
}

/** A gateway's HTTP filters: request authentication and authorization policies selecting it, then Istio's defaults. */
function gatewayHttpFilters(ctx: ProxyContext): Json[] {
  const identity = { namespace: ctx.proxy.namespace, labels: ctx.proxy.labels };
  const jwt = buildJwtFilter(ctx.index.of<RequestAuthenticationSpec>("RequestAuthentication"), identity, ctx.input.jwks ?? (() => undefined), ctx.root);
  const rbac = buildRbacFilters(ctx.authzPolicies, identity, ctx.root, ctx.input.extAuthzProviders);
  return [...(jwt.httpFilter ? [jwt.httpFilter] : []), ...rbac.httpFilters, CORS, FAULT, ROUTER];
}
