// Which VirtualServices a Gateway server serves, and under which names: the server's hosts in Istio's
// "namespace/host" syntax (".", "*" or a namespace, then a host that may start with "*."), the VirtualService's
// `gateways` list naming the Gateway ("name" in its own namespace, or "namespace/name"), and the intersection of the
// two host lists that becomes the virtual host's domains.
import type { IstioResource } from "../../api/resource.js";
import { DOMAIN_SUFFIX } from "./services.js";
import type { BoundServer } from "./gateway-servers.js";
import type { VirtualServiceSpec } from "./virtual-services.js";

export interface ServerHost {
  /** "*" = any namespace. */
  namespace: string;
  host: string;
}

/** A server host: "ns/host", "./host" (the Gateway's namespace), "*\/host" or "host" (any namespace). */
export function parseServerHost(text: string, gatewayNamespace: string): ServerHost {
  const slash = text.indexOf("/");
  if (slash < 0) return { namespace: "*", host: text.toLowerCase() };
  const ns = text.slice(0, slash);
  return { namespace: ns === "." ? gatewayNamespace : ns, host: text.slice(slash + 1).toLowerCase() };
}

/** Istio's short-name rule for hosts bound to gateways: a name without dots is a service of the resource's namespace. */
export function gatewayVsHost(host: string, namespace: string): string {
  return host.includes(".") || host.includes("*") ? host.toLowerCase() : `${host}.${namespace}.svc.${DOMAIN_SUFFIX}`.toLowerCase();
}

function covers(wildcard: string, host: string): boolean {
  if (wildcard === "*") return true;
  return wildcard.startsWith("*.") && host.endsWith(wildcard.slice(1)) && host.length > wildcard.length - 1;
}

/** The names both a server host and a VirtualService host accept: the narrower one, or undefined when disjoint. */
export function intersectHosts(serverHost: string, vsHost: string): string | undefined {
  if (serverHost === vsHost) return serverHost;
  if (covers(serverHost, vsHost)) return vsHost;
  if (covers(vsHost, serverHost)) return serverHost;
  return undefined;
}

/** "name" (the VirtualService's namespace), "ns/name", or "mesh". */
export function resolveGatewayName(name: string, vsNamespace: string): string {
  if (name === "mesh" || name.includes("/")) return name;
  // Istio also accepts a Gateway's FQDN-like name "name.namespace.svc.cluster.local".
  const parts = name.split(".");
  if (parts.length >= 2 && name.endsWith(`.svc.${DOMAIN_SUFFIX}`)) return `${parts[1]}/${parts[0]}`;
  return `${vsNamespace}/${name}`;
}

/** Does a match's (or a VirtualService's) gateways list name this Gateway? An empty list means the VirtualService's own. */
export function namesGateway(gateways: string[], gatewayKey: string, vsNamespace: string): boolean {
  return gateways.some((g) => resolveGatewayName(g, vsNamespace) === gatewayKey);
}

function exportedTo(vs: IstioResource<VirtualServiceSpec>, namespace: string): boolean {
  const exportTo = vs.spec.exportTo ?? ["*"];
  const own = vs.metadata.namespace ?? "default";
  return exportTo.includes("*") || (exportTo.includes(".") && own === namespace) || exportTo.includes(namespace);
}

export interface BoundVirtualService {
  vs: IstioResource<VirtualServiceSpec>;
  /** The domains it is served under on this server. */
  domains: string[];
}

/**
 * The VirtualServices bound to a server's Gateway, visible from the gateway proxy's namespace, whose namespace the
 * server's hosts admit, with the domains where their hosts meet the server's. Oldest first (Istio's merge order).
 */
export function boundVirtualServices(vss: Array<IstioResource<VirtualServiceSpec>>, s: BoundServer, proxyNamespace: string): BoundVirtualService[] {
  const gwNs = s.gateway.metadata.namespace ?? "default";
  const serverHosts = (s.server.hosts ?? []).map((h) => parseServerHost(h, gwNs));
  const out: BoundVirtualService[] = [];
  const sorted = [...vss].sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
  for (const vs of sorted) {
    const ns = vs.metadata.namespace ?? "default";
    if (!namesGateway(vs.spec.gateways ?? [], s.gatewayKey, ns) || !exportedTo(vs, proxyNamespace)) continue;
    const domains = new Set<string>();
    for (const sh of serverHosts) {
      if (sh.namespace !== "*" && sh.namespace !== ns) continue;
      for (const h of vs.spec.hosts ?? []) {
        const d = intersectHosts(sh.host, gatewayVsHost(h, ns));
        if (d) domains.add(d);
      }
    }
    if (domains.size) out.push({ vs, domains: [...domains] });
  }
  return out;
}
