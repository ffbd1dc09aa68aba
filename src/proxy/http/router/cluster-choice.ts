// Which cluster and which host a request goes to: the route's (weighted) cluster, the circuit breakers' verdict, the
// hash policies' value for hashing balancers, and the host for one attempt (steering away from hosts already tried).
import type { Endpoint } from "../../upstream/endpoint.js";
import { hash32 } from "../../upstream/load-balancer.js";
import type { UpstreamCluster } from "../../upstream/cluster.js";
import { cookieValue } from "../cookies.js";
import { type ClusterChoice, pickCluster, type RouteAction } from "../route-table.js";
import type { StreamContext } from "../stream-context.js";

export type Forward = Extract<RouteAction, { kind: "forward" }>;

export interface ClusterLookup {
  (name: string): UpstreamCluster | undefined;
}

export type ClusterPick = { choice: ClusterChoice; cluster: UpstreamCluster } | undefined;

/** The route's cluster (weights, cluster_header) and the live cluster of that name, when both exist. */
export function chooseCluster(action: Forward, ctx: StreamContext, clusters: ClusterLookup): ClusterPick {
  const choice = pickCluster(action, ctx.view);
  const cluster = choice ? clusters(choice.name) : undefined;
  return choice && cluster ? { choice, cluster } : undefined;
}

/** Whether the cluster's circuit breakers refuse one more request (max_requests, max_pending_requests). */
export function overflowed(cluster: UpstreamCluster): boolean {
  return cluster.activeRequests >= cluster.breakers.maxRequests || cluster.pending() >= cluster.breakers.maxPendingRequests;
}

/** The request's hash for ring hash and Maglev, from the route's hash policies in order (terminal stops early). */
export function requestHash(ctx: StreamContext, action: Forward): number | undefined {
  let h: number | undefined;
  for (const p of action.hashPolicies) {
    let v: string | undefined;
    switch (p.kind) {
      case "header": v = ctx.view.header(p.name); break;
      case "cookie": v = cookieValue(ctx.view.header("cookie"), p.name); break;
      case "source_ip": v = ctx.conn.remoteAddress; break;
      case "query_parameter": v = ctx.view.query().get(p.name) ?? undefined; break;
    }
    if (v === undefined) continue;
    const x = hash32(v);
    h = h === undefined ? x : (Math.imul(h, 31) + x) >>> 0;
    if (p.terminal) break;
  }
  return h;
}

/**
 * The host for one attempt: ORIGINAL_DST's from the connection, else the balancer's; with retry previous_hosts,
 * `tried` steers away from hosts already used, and once every host was tried Envoy takes one anyway rather than fail.
 */
export function pickHost(cluster: UpstreamCluster, ctx: StreamContext, hash: number | undefined, tried: ReadonlySet<string> | undefined): Endpoint | undefined {
  if (cluster.type === "ORIGINAL_DST" && ctx.conn.originalDst) return cluster.originalDestinationHost(ctx.conn.originalDst.address, ctx.conn.originalDst.port);
  const skip = tried && tried.size > 0 ? (e: Endpoint) => tried.has(e.key) : undefined;
  return cluster.pick(hash, skip) ?? (skip ? cluster.pick(hash) : undefined);
}
