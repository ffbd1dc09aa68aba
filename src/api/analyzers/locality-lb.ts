// Istio's rules for localityLbSetting (DestinationRule traffic policies and MeshConfig): distribute and failover are
// exclusive, each distribute rule's weights sum to 100, failover moves between two different regions.
import type { Code } from "../codes.js";
import { asArray, asObject } from "./reporter.js";

export interface LocalityLbProblem { code: Code; path: string; message: string }

/** A locality pattern: region[/zone[/subzone]], "*" only as the last part. */
function patternProblem(v: unknown): string | undefined {
  if (typeof v !== "string" || v === "") return "must be a locality such as \"us-east\", \"us-east/us-east-1a\" or \"us-east/*\"";
  const parts = v.split("/");
  if (parts.length > 3) return `"${v}" has more than region/zone/subzone`;
  if (parts.some((p, i) => p === "" || (p.includes("*") && (p !== "*" || i !== parts.length - 1)))) return `"${v}" may use "*" only as its whole last part (e.g. "us-east/*")`;
  return undefined;
}

export function localityLbProblems(setting: unknown, path: string): LocalityLbProblem[] {
  const out: LocalityLbProblem[] = [];
  const add = (code: Code, where: string, problem: string) => out.push({ code, path: where, message: `${where}: ${problem}` });
  const s = asObject(setting);
  const distribute = asArray(s.distribute).map(asObject);
  const failover = asArray(s.failover).map(asObject);
  const priority = asArray(s.failoverPriority);
  if (distribute.length && (failover.length || priority.length)) {
    add("TRL0019", `${path}.distribute`, `distribute and ${failover.length ? "failover" : "failoverPriority"} cannot be set together; use distribute for fixed weights or failover for priorities`);
  }
  distribute.forEach((d, i) => {
    const where = `${path}.distribute[${i}]`;
    const from = patternProblem(d.from);
    if (from) add("TRL0020", `${where}.from`, from);
    const to = asObject(d.to);
    let total = 0;
    for (const [locality, weight] of Object.entries(to)) {
      const p = patternProblem(locality);
      if (p) add("TRL0020", `${where}.to`, p);
      if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 1 || weight > 100) add("TRL0020", `${where}.to["${locality}"]`, `weight must be a whole number from 1 to 100, not ${JSON.stringify(weight)}`);
      else total += weight;
    }
    if (Object.keys(to).length === 0) add("TRL0012", `${where}.to`, "name at least one locality and its weight (the weights sum to 100)");
    else if (total !== 100) add("TRL0020", `${where}.to`, `the weights sum to ${total}; they must sum to 100`);
  });
  failover.forEach((f, i) => {
    const where = `${path}.failover[${i}]`;
    for (const key of ["from", "to"] as const) {
      const v = f[key];
      if (typeof v !== "string" || v === "" || v.includes("/") || v.includes("*")) add("TRL0020", `${where}.${key}`, `must be a region name (failover moves between regions), not ${JSON.stringify(v)}`);
    }
    if (typeof f.from === "string" && f.from === f.to) add("TRL0020", `${where}.to`, `must differ from "from" (${f.from}): failover goes to another region`);
  });
  const topology = new Set(["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"]);
  priority.forEach((label, i) => {
    if (typeof label !== "string" || label === "") add("TRL0020", `${path}.failoverPriority[${i}]`, "must be a label name, or label=value");
    else if (failover.length && topology.has(label.split("=")[0])) add("TRL0019", `${path}.failoverPriority[${i}]`, `"${label}" cannot be combined with failover (both order by locality); drop one`);
  });
  return out;
}

/** Every localityLbSetting of a DestinationRule: the rule's policy, its port-level settings and its subsets'. */
export function destinationRuleLocalityProblems(spec: unknown): LocalityLbProblem[] {
  const out: LocalityLbProblem[] = [];
  const policy = (tp: unknown, path: string) => {
    const t = asObject(tp);
    const lb = asObject(t.loadBalancer);
    if (lb.localityLbSetting !== undefined) out.push(...localityLbProblems(lb.localityLbSetting, `${path}.loadBalancer.localityLbSetting`));
    asArray(t.portLevelSettings).forEach((pls, i) => {
      const l = asObject(asObject(pls).loadBalancer);
      if (l.localityLbSetting !== undefined) out.push(...localityLbProblems(l.localityLbSetting, `${path}.portLevelSettings[${i}].loadBalancer.localityLbSetting`));
    });
  };
  const s = asObject(spec);
  policy(s.trafficPolicy, "spec.trafficPolicy");
  asArray(s.subsets).forEach((sub, i) => policy(asObject(sub).trafficPolicy, `spec.subsets[${i}].trafficPolicy`));
  return out;
}
