// Virtual IPs for services in transparent mode. In Kubernetes mode a Service's VIP is its ClusterIP (what the cluster's
// DNS answers, so the sidecar's listener for it is what the application dials). Universal mode has none: each
// hostname hashes to an address in 10.214.0.0/16, probing past collisions in hostname order, so every control plane
// computes the same VIPs from the same services without storing them.
import type { Service } from "./services.js";

export const VIP_PREFIX = "10.214.";

/** On a ServiceEntry Kubernetes mode makes for a Service without endpoints: that Service's ClusterIP (its VIP). */
export const CLUSTER_IP_ANNOTATION = "trellis.io/cluster-ip";

/**
 * The hosts that get a VIP: not wildcards, and not ServiceEntry hosts with resolution NONE (Istio gives those no
 * address: the application dials the host's real address and the sidecar recognises it by port and name).
 */
export function vipHostnames(services: Map<string, Service>): string[] {
  return [...services.values()].filter((s) => !s.hostname.includes("*") && s.entry?.resolution !== "NONE").map((s) => s.hostname);
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function serviceVips(hostnames: Iterable<string>, assigned: ReadonlyMap<string, string> = new Map()): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<number>();
  for (const host of [...new Set(hostnames)].sort()) {
    const given = assigned.get(host);
    if (given) {
      out.set(host, given);
      continue;
    }
    // 1..65534: neither the network nor the broadcast address of the /16.
    let n = (fnv1a(host) % 65534) + 1;
    while (taken.has(n)) n = (n % 65534) + 1;
    taken.add(n);
    out.set(host, `${VIP_PREFIX}${n >> 8}.${n & 255}`);
  }
  return out;
}
