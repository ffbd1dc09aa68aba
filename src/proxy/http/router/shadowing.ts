// request_mirror_policies: a copy of the request (headers and body) to each mirror cluster, sampled by its runtime
// fraction, with Envoy's "-shadow" authority; the mirror's answer is read and dropped.
import type { Stats } from "../../stats/stats.js";
import { chance } from "../route-table.js";
import type { StreamContext } from "../stream-context.js";
import type { ClusterLookup, Forward } from "./cluster-choice.js";
import { startAttempt } from "./upstream-attempt.js";
import { discardBody, type HeaderMap } from "./upstream-outcome.js";

/** Envoy's shadow authority: "-shadow" appended to the host, before any port. */
export function shadowOf(authority: string): string {
  const colon = authority.lastIndexOf(":");
  return colon > 0 && !authority.endsWith("]") ? `${authority.slice(0, colon)}-shadow${authority.slice(colon)}` : `${authority}-shadow`;
}

/** The mirror clusters this request goes to: cluster_header's value or the named cluster, each by its fraction. */
export function mirrorTargets(action: Forward, ctx: StreamContext, draw: (fraction: number) => boolean = chance): Array<{ cluster: string; keepAuthority: boolean }> {
  const out: Array<{ cluster: string; keepAuthority: boolean }> = [];
  for (const m of action.mirrors) {
    const name = m.clusterHeader ? ctx.view.header(m.clusterHeader) : m.cluster;
    if (name && draw(m.fraction())) out.push({ cluster: name, keepAuthority: m.keepAuthority });
  }
  return out;
}

/** Sends the copies; a mirror cluster that is unknown or has no host is skipped, as Envoy does. */
export function shadow(ctx: StreamContext, action: Forward, clusters: ClusterLookup, stats: Stats, path: string, authority: string, headers: HeaderMap): void {
  for (const t of mirrorTargets(action, ctx)) {
    const cluster = clusters(t.cluster);
    const host = cluster?.pick(undefined);
    if (!cluster || !host) continue;
    const a = startAttempt({ cluster, host, ctx, path, authority: t.keepAuthority ? authority : shadowOf(authority), headers: { ...headers }, perTryMs: 0, stats }, discardBody);
    ctx.req.on("data", (c: Buffer) => a.sink.write(c));
    ctx.req.on("end", () => a.sink.end());
    stats.inc(`cluster.${t.cluster}.upstream_rq_shadow`);
  }
}
