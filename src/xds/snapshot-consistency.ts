// A snapshot is served only when it is consistent, as go-control-plane checks: every EDS name a cluster needs and
// every RDS name a listener's HTTP connection managers need are in it.
import type { Snapshot } from "./ads-types.js";
import { type AnyValue, decodeAny } from "./resource.js";

/** What is missing, one sentence each (empty when consistent). */
export function snapshotProblems(snapshot: Snapshot): string[] {
  const problems: string[] = [];
  const endpoints = snapshot.resources.endpoint ?? new Map();
  const routes = snapshot.resources.route ?? new Map();
  for (const [name, any] of snapshot.resources.cluster ?? []) {
    const eds = edsName(any, name);
    if (eds !== undefined && !endpoints.has(eds)) problems.push(`cluster ${name} needs endpoints ${eds}, which the snapshot lacks`);
  }
  for (const [name, any] of snapshot.resources.listener ?? []) {
    for (const rds of rdsNames(any)) if (!routes.has(rds)) problems.push(`listener ${name} needs route configuration ${rds}, which the snapshot lacks`);
  }
  return problems;
}

/**
 * What an encoded resource refers to, by the encoded object: a control plane that hands many proxies the same
 * encoded resource (see SnapshotEncoder) has it decoded once, not once per proxy and push.
 */
const references = new WeakMap<AnyValue, { eds?: string; rds?: string[] }>();

/** The EDS name an encoded cluster needs (undefined: not an EDS cluster). */
function edsName(any: AnyValue, name: string): string | undefined {
  let refs = references.get(any);
  if (!refs) {
    const c = decodeAny<{ type?: string; eds_cluster_config?: { service_name: string } | null }>(any);
    refs = c.ok && c.value.type === "EDS" ? { eds: c.value.eds_cluster_config?.service_name || name } : {};
    references.set(any, refs);
  }
  return refs.eds;
}

/** The RDS route names an encoded listener's HTTP connection managers use. */
function rdsNames(any: AnyValue): string[] {
  const known = references.get(any)?.rds;
  if (known) return known;
  const l = decodeAny<{ filter_chains: Array<{ filters: Array<{ typed_config: AnyValue | null }> }>; default_filter_chain: { filters: Array<{ typed_config: AnyValue | null }> } | null }>(any);
  if (!l.ok) return [];
  const out: string[] = [];
  for (const chain of [...l.value.filter_chains, ...(l.value.default_filter_chain ? [l.value.default_filter_chain] : [])]) {
    for (const f of chain.filters) {
      if (!f.typed_config?.type_url.endsWith("HttpConnectionManager")) continue;
      const hcm = decodeAny<{ rds: { route_config_name: string } | null }>(f.typed_config);
      if (hcm.ok && hcm.value.rds) out.push(hcm.value.rds.route_config_name);
    }
  }
  references.set(any, { rds: out });
  return out;
}
