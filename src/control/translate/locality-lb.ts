// Istio's locality load balancing for one proxy: EDS endpoints grouped by locality, then (MeshConfig or
// DestinationRule localityLbSetting) `distribute` weights relative to the proxy's own locality, or failover
// priorities (same subzone 0, same zone 1, same region 2, elsewhere 3, `failover` targets before the rest) when the
// cluster has outlier detection, as pilot's ApplyLocalityLoadBalancer does.
import type { Workload } from "../registry/registry.js";
import { parseLocality } from "../registry/locality.js";

type Json = Record<string, unknown>;

export interface LocalityLbSetting {
  enabled?: boolean;
  distribute?: Array<{ from?: string; to?: Record<string, number> }>;
  failover?: Array<{ from?: string; to?: string }>;
  failoverPriority?: string[];
}

/** Istio's default MeshConfig turns locality load balancing on (it acts only with outlier detection or a rule). */
export const DEFAULT_LOCALITY_LB: LocalityLbSetting = { enabled: true };

/** A LocalityLbEndpoints group while it is being shaped: its workloads stay at hand for failoverPriority labels. */
interface Group {
  locality: string;
  priority: number;
  weight: number;
  members: Array<{ workload: Workload; endpoint: Json }>;
}

/** Istio's GetLocalityLbSetting: the DestinationRule's setting wins (enabled: false turns it off), else the mesh's. */
export function effectiveLocalityLb(mesh: LocalityLbSetting | undefined, rule: LocalityLbSetting | undefined): LocalityLbSetting | undefined {
  if (rule) return rule.enabled === false ? undefined : rule;
  return mesh?.enabled === false ? undefined : mesh;
}

/** Whether the cluster needs locality_weighted_lb_config (Istio sets it for distribute and explicit failover). */
export function localityWeighted(setting: LocalityLbSetting | undefined, outlierDetection: boolean): boolean {
  if (!setting) return false;
  return !!setting.distribute?.length || (outlierDetection && (!!setting.failover?.length || !!setting.failoverPriority?.length));
}

/** Istio's LocalityMatch: "region/zone/subzone" with "*" for any part; parts left out match anything. */
export function localityMatches(locality: string, pattern: string): boolean {
  const l = parseLocality(locality);
  const [region = "", zone = "", subzone = ""] = pattern.split("/");
  return (region === "*" || region === l.region) && (zone === "*" || zone === "" || zone === l.zone) && (subzone === "*" || subzone === "" || subzone === l.subzone);
}

/**
 * The ClusterLoadAssignment endpoints for `proxy`: one LocalityLbEndpoints per locality (weight = its endpoint
 * count, as Istio sums endpoint weights), shaped by the locality setting in force.
 */
export function localityEndpoints(members: Array<{ workload: Workload; endpoint: Json }>, proxy: Workload, setting: LocalityLbSetting | undefined, outlierDetection: boolean): Json[] {
  const byLocality = new Map<string, Group>();
  for (const m of members) {
    const key = m.workload.locality ?? "";
    let g = byLocality.get(key);
    if (!g) byLocality.set(key, (g = { locality: key, priority: 0, weight: 0, members: [] }));
    g.members.push(m);
    g.weight++;
  }
  let groups = [...byLocality.values()].sort((a, b) => a.locality.localeCompare(b.locality));
  const own = proxy.locality ?? "";
  if (setting) {
    if (setting.distribute?.length) groups = distribute(groups, own, setting.distribute);
    else if (outlierDetection) {
      if (setting.failoverPriority?.length) groups = failoverPriority(groups, proxy, setting.failoverPriority);
      if (!setting.failoverPriority?.length || setting.failover?.length) failover(groups, own, setting.failover ?? []);
    }
  }
  return groups.map((g) => {
    const l = parseLocality(g.locality);
    return {
      ...(g.locality ? { locality: { region: l.region, zone: l.zone, sub_zone: l.subzone } } : {}),
      lb_endpoints: g.members.map((m) => m.endpoint),
      load_balancing_weight: g.weight,
      ...(g.priority ? { priority: g.priority } : {}),
    };
  });
}

/**
 * Istio's applyLocalityWeights: the first rule whose `from` matches the proxy sets each `to` locality's weight
 * (split across the groups a wildcard matches, in proportion to their own weights, rounded up); groups no `to`
 * names get no traffic.
 */
function distribute(groups: Group[], own: string, rules: NonNullable<LocalityLbSetting["distribute"]>): Group[] {
  const rule = rules.find((r) => localityMatches(own, r.from ?? ""));
  if (!rule) return groups;
  const unmatched = new Set(groups);
  for (const [pattern, weight] of Object.entries(rule.to ?? {})) {
    const hit = groups.filter((g) => unmatched.has(g) && localityMatches(g.locality, pattern));
    const total = hit.reduce((s, g) => s + g.weight, 0);
    for (const g of hit) {
      unmatched.delete(g);
      const w = (g.weight * weight) / total;
      if (w > 0) g.weight = Math.ceil(w);
    }
  }
  return groups.filter((g) => !unmatched.has(g));
}

/** Istio's LbPriority, then its failover targets: a region `failover` names for the proxy's region comes before others. */
function failover(groups: Group[], own: string, rules: NonNullable<LocalityLbSetting["failover"]>): void {
  const me = parseLocality(own);
  for (const g of groups) {
    const l = parseLocality(g.locality);
    let p = me.region !== l.region ? 3 : me.zone !== l.zone ? 2 : me.subzone !== l.subzone ? 1 : 0;
    if (p === 3) {
      const rule = rules.find((r) => r.from === me.region);
      if (rule && l.region !== rule.to) p = 4;
    }
    g.priority = g.priority * 5 + p;
  }
  compact(groups);
}

/**
 * Istio's applyFailoverPriorities: each endpoint's priority is how early a listed label differs from the proxy's
 * (label=value fixes the value to compare); a locality's group splits by priority. Locality topology labels count.
 */
function failoverPriority(groups: Group[], proxy: Workload, labels: string[]): Group[] {
  const proxyLabels = withTopology(proxy);
  const parsed = labels.map((l) => {
    const i = l.indexOf("=");
    return i < 0 ? { name: l, value: proxyLabels[l] } : { name: l.slice(0, i), value: l.slice(i + 1) };
  });
  const out: Group[] = [];
  for (const g of groups) {
    const split = new Map<number, Group>();
    for (const m of g.members) {
      const epLabels = withTopology(m.workload);
      const j = parsed.findIndex((p) => p.value !== epLabels[p.name]);
      const priority = j < 0 ? 0 : parsed.length - j;
      let s = split.get(priority);
      if (!s) split.set(priority, (s = { locality: g.locality, priority, weight: 0, members: [] }));
      s.members.push(m);
      s.weight++;
    }
    out.push(...[...split.values()].sort((a, b) => a.priority - b.priority));
  }
  compact(out);
  return out;
}

/** Envoy wants priorities 0..N without gaps. */
function compact(groups: Group[]): void {
  const used = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  for (const g of groups) g.priority = used.indexOf(g.priority);
}

function withTopology(w: Workload): Record<string, string> {
  const l = parseLocality(w.locality);
  return { ...w.labels, "topology.kubernetes.io/region": l.region, "topology.kubernetes.io/zone": l.zone, "topology.istio.io/subzone": l.subzone };
}
