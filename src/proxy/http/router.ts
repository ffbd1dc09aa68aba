// envoy.filters.http.router: the request path's upstream half, assembled from the layers in router/: cluster choice
// and circuit breakers, request rewrites, then one ForwardedRequest (timeouts, attempts, retries, body replay,
// shadowing, the response).
import type { UpstreamCluster } from "../upstream/cluster.js";
import type { Stats } from "../stats/stats.js";
import { localReply } from "./local-reply.js";
import type { RouteAction } from "./route-table.js";
import type { StreamContext } from "./stream-context.js";
import { chooseCluster, type ClusterLookup, overflowed } from "./router/cluster-choice.js";
import { ForwardedRequest } from "./router/forwarded-request.js";
import { rewriteRequest } from "./router/request-rewrite.js";

export type { ClusterLookup } from "./router/cluster-choice.js";

export class Router {
  constructor(private readonly clusters: ClusterLookup, private readonly stats: Stats) {}

  cluster(name: string): UpstreamCluster | undefined {
    return this.clusters(name);
  }

  route(ctx: StreamContext, action: Extract<RouteAction, { kind: "forward" }>): void {
    const pick = chooseCluster(action, ctx, this.clusters);
    if (!pick) {
      this.stats.inc("http.no_cluster");
      localReply(ctx, action.notFoundStatus, "no healthy upstream", "NC");
      return;
    }
    const { choice, cluster } = pick;
    ctx.upstreamCluster = cluster.name;
    if (cluster.istioService) ctx.upstreamService = cluster.istioService;
    if (overflowed(cluster)) {
      this.stats.inc(`cluster.${cluster.name}.upstream_rq_pending_overflow`);
      // Envoy's router marks what its circuit breakers refused, so callers can tell overload from a failing upstream.
      localReply(ctx, 503, "upstream connect error or disconnect/reset before headers. reset reason: overflow", "UO", { "x-envoy-overloaded": "true" });
      return;
    }
    const { path, authority } = rewriteRequest(ctx, action, choice, cluster);
    new ForwardedRequest(ctx, { action, choice, cluster, path, authority }, this.clusters, this.stats).start();
  }
}
