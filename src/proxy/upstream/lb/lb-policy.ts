// The load-balancer contract and its registry: each policy is one file registered under its Envoy lb_policy name,
// built with the cluster's options when the host set changes; pick() only indexes and compares.
import type { Endpoint } from "../endpoint.js";

export interface LoadBalancer {
  /** `hash` is the request's hash-policy value (ring hash, Maglev); `skip` excludes hosts (retry previous_hosts). */
  pick(hosts: Endpoint[], hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined;
}

export interface LbOptions {
  choiceCount?: number;
  minRingSize?: number;
  maxRingSize?: number;
  tableSize?: number;
}

export type LbFactory = (opts: LbOptions) => LoadBalancer;

const registry = new Map<string, LbFactory>();

export function registerLbPolicy(name: string, factory: LbFactory): void {
  registry.set(name, factory);
}

export function registeredLbPolicies(): string[] {
  return [...registry.keys()];
}

/** A balancer for the policy; throws naming the policies that exist (the cluster's CDS update is NACKed). */
export function createLoadBalancer(policy: string, opts: LbOptions = {}): LoadBalancer {
  const factory = registry.get(policy);
  if (!factory) throw new Error(`lb_policy ${policy} is not supported (${registeredLbPolicies().join(", ")} are)`);
  return factory(opts);
}

/** The first host at or after `start` (wrapping) that `skip` allows. */
export function firstAllowed(hosts: Endpoint[], start: number, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
  for (let i = 0; i < hosts.length; i++) {
    const e = hosts[(start + i) % hosts.length];
    if (!skip || !skip(e)) return e;
  }
  return undefined;
}
