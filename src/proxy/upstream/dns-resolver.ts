// DNS for STRICT_DNS and LOGICAL_DNS clusters: which resolver (the system's getaddrinfo, or c-ares against the
// servers a cluster names), which address families, the TTL when the answer carries one (built once per cluster),
// and the assignment the answers make of the cluster's named endpoints.
import { lookup, Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import type { Cluster__Output } from "../../xds/generated/envoy/config/cluster/v3/Cluster.js";
import type { CaresDnsResolverConfig__Output } from "../../xds/generated/envoy/extensions/network/dns_resolver/cares/v3/CaresDnsResolverConfig.js";
import type { Address__Output } from "../../xds/generated/envoy/config/core/v3/Address.js";
import type { ClusterLoadAssignment__Output } from "../../xds/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import { typedConfig } from "../config/typed-config.js";

export interface DnsAnswer {
  addresses: string[];
  /** The smallest TTL of the records, in ms; undefined when the resolver does not say (getaddrinfo). */
  ttlMs?: number;
}

export type DnsResolve = (name: string) => Promise<DnsAnswer>;

type Family = "V4_ONLY" | "V6_ONLY" | "V4_PREFERRED" | "AUTO" | "ALL";

const CARES = "envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig";
const GETADDRINFO = "envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig";

function serverOf(a: Address__Output, where: string): string {
  const s = a.socket_address;
  if (!s?.address || !isIP(s.address)) throw new Error(`${where}: a DNS resolver must be an IP address with a port (socket_address), not ${JSON.stringify(s?.address ?? a)}`);
  const port = s.port_value || 53;
  return isIP(s.address) === 6 ? `[${s.address}]:${port}` : `${s.address}:${port}`;
}

/**
 * The DNS servers a cluster names: typed_dns_resolver_config (c-ares), else the deprecated dns_resolution_config or
 * dns_resolvers; [] = the system's.
 */
function resolverServers(config: Cluster__Output, where: string): string[] {
  const typed = config.typed_dns_resolver_config;
  if (typed?.typed_config) {
    const type = typed.typed_config.type_url.replace(/^.*\//, "");
    if (type === GETADDRINFO) return [];
    if (type !== CARES) throw new Error(`${where}.typed_dns_resolver_config: ${type} is not supported (${CARES} and ${GETADDRINFO} are)`);
    const decoded = typedConfig<CaresDnsResolverConfig__Output>(typed.typed_config, `${where}.typed_dns_resolver_config.typed_config`);
    if (decoded.resolvers.length === 0) throw new Error(`${where}.typed_dns_resolver_config.typed_config.resolvers: name at least one DNS server`);
    return decoded.resolvers.map((a, i) => serverOf(a, `${where}.typed_dns_resolver_config.typed_config.resolvers[${i}]`));
  }
  const legacy = config.dns_resolution_config?.resolvers ?? [];
  if (legacy.length) return legacy.map((a, i) => serverOf(a, `${where}.dns_resolution_config.resolvers[${i}]`));
  return config.dns_resolvers.map((a, i) => serverOf(a, `${where}.dns_resolvers[${i}]`));
}

/** A resolver for one cluster's settings; throws (at config time) on settings it cannot honour. */
export function dnsResolverFor(config: Cluster__Output, where: string): DnsResolve {
  const family = (config.dns_lookup_family || "AUTO") as Family;
  const servers = resolverServers(config, where);
  if (servers.length === 0) {
    // getaddrinfo: /etc/hosts and the system's resolv.conf, as Envoy's getaddrinfo resolver; no TTLs.
    const opts = family === "V4_ONLY" ? { family: 4 } : family === "V6_ONLY" ? { family: 6 } : { family: 0 };
    return async (name) => {
      if (isIP(name)) return { addresses: [name] };
      const found = await lookup(name, { all: true, ...opts });
      const v4 = found.filter((a) => a.family === 4).map((a) => a.address);
      const v6 = found.filter((a) => a.family === 6).map((a) => a.address);
      return { addresses: pickFamily(family, v4, v6) };
    };
  }
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers(servers);
  const query = async (name: string, v: 4 | 6) => {
    try {
      return v === 4 ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
    } catch (err) {
      // No record of this family is an empty answer, not a failure (another family may have one).
      if ((err as NodeJS.ErrnoException).code === "ENODATA") return [];
      throw err;
    }
  };
  return async (name) => {
    if (isIP(name)) return { addresses: [name] };
    const v4 = family === "V6_ONLY" ? [] : await query(name, 4);
    const v6 = family === "V4_ONLY" || (family === "V4_PREFERRED" && v4.length) ? [] : await query(name, 6);
    const used = [...(family === "V6_ONLY" ? [] : v4), ...v6];
    const addresses = pickFamily(family, v4.map((r) => r.address), v6.map((r) => r.address));
    const ttls = used.filter((r) => addresses.includes(r.address)).map((r) => r.ttl * 1000);
    return { addresses, ttlMs: ttls.length ? Math.min(...ttls) : undefined };
  };
}

/** Envoy's dns_lookup_family: AUTO prefers IPv6, V4_PREFERRED IPv4, ALL keeps both. */
function pickFamily(family: Family, v4: string[], v6: string[]): string[] {
  switch (family) {
    case "V4_ONLY": return v4;
    case "V6_ONLY": return v6;
    case "V4_PREFERRED": return v4.length ? v4 : v6;
    case "ALL": return [...v4, ...v6];
    default: return v6.length ? v6 : v4;
  }
}

/** A DNS cluster's assignment with each endpoint's name replaced by the addresses it resolved to (one host each). */
export function expand(cla: ClusterLoadAssignment__Output, known: Map<string, string[]>): ClusterLoadAssignment__Output {
  return {
    ...cla,
    endpoints: cla.endpoints.map((group) => ({
      ...group,
      lb_endpoints: group.lb_endpoints.flatMap((lbe) => {
        const sock = lbe.endpoint?.address?.socket_address;
        if (!sock) return [];
        return (known.get(sock.address) ?? []).map((address) => ({ ...lbe, endpoint: { ...lbe.endpoint!, hostname: sock.address, address: { ...lbe.endpoint!.address!, socket_address: { ...sock, address } } } }));
      }),
    })),
  };
}
