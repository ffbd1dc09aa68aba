// The request as it goes upstream: peer metadata kept inside the mesh, the route's and the weighted cluster's
// header changes, path rewrites (with x-envoy-original-path) and host rewrites (with x-forwarded-host).
import { PEER_HEADER } from "../../stats/istio-metrics.js";
import type { UpstreamCluster } from "../../upstream/cluster.js";
import { type ClusterChoice, rewritePath } from "../route-table.js";
import type { StreamContext } from "../stream-context.js";
import type { Forward } from "./cluster-choice.js";

/** Changes ctx.upstreamHeaders in place; returns the path and authority to send. */
export function rewriteRequest(ctx: StreamContext, action: Forward, choice: ClusterChoice, cluster: UpstreamCluster): { path: string; authority: string } {
  const headers = ctx.upstreamHeaders;
  // Istio keeps its peer metadata inside the mesh: MESH_EXTERNAL clusters never see it.
  if (cluster.external) delete headers[PEER_HEADER];
  ctx.route!.requestHeaders.apply(headers);
  choice.requestHeaders.apply(headers);
  const path = rewritePath(action, ctx.view.path);
  if (path !== ctx.view.path) headers["x-envoy-original-path"] = ctx.view.path;
  if (action.hostRewrite || action.autoHostRewrite) headers["x-forwarded-host"] = ctx.view.authority;
  return { path, authority: action.hostRewrite ?? ctx.view.authority };
}
