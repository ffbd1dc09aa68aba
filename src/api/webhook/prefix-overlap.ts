// HTTP matches an earlier uri prefix already takes (IST0131), after Istio's overlapping-match check in its webhook:
// a later match whose prefix extends an earlier one (/api/v1/products after /api/v1/product) with the same port and
// conditions no narrower in the earlier one is never reached. Only uri prefix matches are compared, as Istio does;
// a method left out means GET there, so the same default applies here for the comparison.
import { arr, obj, type Problems } from "./problems.js";

interface PrefixMatch {
  rule: number;
  match: number;
  prefix: string;
  port: unknown;
  method: string;
  authority: string;
  headers: Map<string, string>;
  queryParams: Map<string, string>;
  withoutHeaders: Map<string, string>;
}

/** A StringMatch as "exact:V" or "prefix:V"; regex and empty conditions are "" (not compared, as Istio). */
function condition(v: unknown): string {
  const m = obj(v);
  if (typeof m.exact === "string" && m.exact) return `exact:${m.exact}`;
  if (typeof m.prefix === "string" && m.prefix) return `prefix:${m.prefix}`;
  return "";
}

function conditions(v: unknown): Map<string, string> {
  return new Map(Object.entries(obj(v)).map(([k, x]) => [k, condition(x)]));
}

function prefixMatch(m: Record<string, unknown>, rule: number, match: number): PrefixMatch | undefined {
  const prefix = obj(m.uri).prefix;
  if (typeof prefix !== "string" || prefix === "") return undefined;
  return {
    rule, match, prefix, port: m.port,
    method: condition(m.method) || "exact:GET",
    authority: condition(m.authority),
    headers: conditions(m.headers), queryParams: conditions(m.queryParams), withoutHeaders: conditions(m.withoutHeaders),
  };
}

/** Whether every request the later condition admits is admitted by the earlier one. */
function admits(earlier: string, later: string): boolean {
  if (earlier === later) return true;
  if (!earlier.startsWith("prefix:")) return false;
  return later.slice(later.indexOf(":") + 1).startsWith(earlier.slice("prefix:".length));
}

function sameKeysAdmitting(earlier: Map<string, string>, later: Map<string, string>, test: (a: string, b: string) => boolean): boolean {
  if (earlier.size !== later.size) return false;
  for (const [k, v] of earlier) if (!later.has(k) || !test(v, later.get(k)!)) return false;
  return true;
}

function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  return a.prefix !== b.prefix && b.prefix.startsWith(a.prefix) && a.port === b.port &&
    admits(a.method, b.method) && admits(a.authority, b.authority) &&
    sameKeysAdmitting(a.headers, b.headers, admits) && sameKeysAdmitting(a.queryParams, b.queryParams, admits) &&
    // withoutHeaders excludes requests: only an identical exclusion is certainly no narrower.
    sameKeysAdmitting(a.withoutHeaders, b.withoutHeaders, (x, y) => x === y);
}

/** Reports each http match (not already an exact duplicate: `skip`) that an earlier prefix match covers. */
export function reportCoveredPrefixes(p: Problems, routes: unknown[], skip: Set<string>): void {
  const seen: PrefixMatch[] = [];
  // Rules after one without matches are unreachable already (TRL1018); they take nothing from the ones before.
  const reachable = routes.findIndex((r) => arr(obj(r).match).length === 0);
  (reachable < 0 ? routes : routes.slice(0, reachable)).forEach((raw, i) => {
    arr(obj(raw).match).forEach((m, j) => {
      if (skip.has(`${i}.${j}`)) return;
      const pm = prefixMatch(obj(m), i, j);
      if (!pm) return;
      const earlier = seen.find((s) => covers(s, pm));
      if (earlier) p.error(`spec.http[${i}].match[${j}]`, `is never used: prefix "${pm.prefix}" is taken first by prefix "${earlier.prefix}" of rule ${earlier.rule} match ${earlier.match} with the same conditions; put the longer prefix first`, "TRL1019");
      seen.push(pm);
    });
  });
}
