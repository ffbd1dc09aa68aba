// Istio's webhook rules for VirtualService that its CRD schema does not express, after istio/istio
// pkg/config/validation ValidateVirtualService and validateHTTPRoute: delegates, hosts, what a route may combine,
// percentages and durations, and rules later ones can never reach (IST0130) or matches already taken (IST0131).
import { reportCoveredPrefixes } from "./prefix-overlap.js";
import { arr, exportToProblems, has, obj, Problems, type WebhookProblem } from "./problems.js";

/** Istio's host.Name.Matches: equal, or one is a wildcard covering the other. */
function overlaps(a: string, b: string): boolean {
  if (a === b || a === "*" || b === "*") return true;
  if (a.startsWith("*") && b.endsWith(a.slice(1))) return true;
  return b.startsWith("*") && a.endsWith(b.slice(1));
}

/** A stable text of a match, so identical matches compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${k}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

function httpRoute(p: Problems, r: Record<string, unknown>, at: string, delegate: boolean): void {
  const isRoot = has(r.delegate);
  if (isRoot) {
    if (has(r.redirect)) p.error(`${at}.redirect`, "a route that delegates cannot also redirect", "TRL0019");
    if (r.route !== undefined) p.error(`${at}.route`, "a route that delegates cannot also route", "TRL0019");
  } else {
    if (delegate && r.delegate !== undefined) p.error(`${at}.delegate`, "a delegate VirtualService cannot delegate again", "TRL0019");
    const action = r.redirect !== undefined ? "redirect" : r.directResponse !== undefined ? "directResponse" : undefined;
    if (action) {
      for (const other of ["route", "fault", "rewrite", "directResponse", "redirect"]) {
        if (other !== action && (other === "route" ? arr(r.route).length > 0 : r[other] !== undefined)) p.error(`${at}.${other}`, `cannot be combined with ${action}`, "TRL0019");
      }
    } else if (arr(r.route).length === 0) {
      p.error(`${at}.route`, "an http route needs a route, a redirect or a directResponse", "TRL0012");
    }
  }
  if (r.mirror !== undefined && arr(r.mirrors).length > 0) p.error(`${at}.mirrors`, "cannot be set with mirror; list every mirror in mirrors", "TRL0019");
  if (typeof r.mirrorPercent === "number" || r.mirror_percent !== undefined) p.warn(`${at}.mirrorPercent`, "is deprecated; use mirrorPercentage");
  const mp = obj(r.mirrorPercentage).value;
  if (typeof mp === "number" && (mp < 0 || mp > 100)) p.error(`${at}.mirrorPercentage.value`, `${mp} is not a percentage; use 0 to 100`);
  p.duration(`${at}.timeout`, r.timeout);
  const retries = obj(r.retries);
  p.nonNegative(`${at}.retries.attempts`, retries.attempts);
  p.duration(`${at}.retries.perTryTimeout`, retries.perTryTimeout);
  for (const kind of ["delay", "abort"] as const) {
    const pct = obj(obj(obj(r.fault)[kind]).percentage).value;
    if (typeof pct === "number" && (pct < 0 || pct > 100)) p.error(`${at}.fault.${kind}.percentage.value`, `${pct} is not a percentage; use 0 to 100`);
  }
  p.duration(`${at}.fault.delay.fixedDelay`, obj(obj(r.fault).delay).fixedDelay);
  const abortStatus = obj(obj(r.fault).abort).httpStatus;
  if (typeof abortStatus === "number" && (abortStatus < 200 || abortStatus > 599)) p.error(`${at}.fault.abort.httpStatus`, `${abortStatus} is not an HTTP status; use 200-599`);
  const dr = obj(r.directResponse);
  if (typeof dr.status === "number" && (dr.status < 200 || dr.status > 599)) p.error(`${at}.directResponse.status`, `${dr.status} is not an HTTP status; use 200-599`);
  arr(r.match).forEach((m, j) => {
    const ns = obj(m).sourceNamespace;
    if (typeof ns === "string" && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) p.error(`${at}.match[${j}].sourceNamespace`, `"${ns}" is not a namespace name`);
  });
}

/** Rules after a match-all rule, and matches an earlier rule already has (Istio warns; the write is accepted). */
function unreachable(p: Problems, routes: unknown[], kind: string): void {
  const seen = new Map<string, number>();
  const duplicates = new Set<string>();
  let catchAll = -1;
  routes.forEach((raw, i) => {
    const matches = arr(obj(raw).match);
    const at = `spec.${kind}[${i}]`;
    if (matches.length === 0) {
      if (catchAll >= 0) p.error(at, `is never used: rule ${catchAll} has no match and takes every request first; only the last rule may have no match`, "TRL1018");
      catchAll = i;
      return;
    }
    if (catchAll >= 0) return p.error(at, `is never used: rule ${catchAll} has no match and takes every request first; move this rule above it`, "TRL1018");
    let taken = 0;
    matches.forEach((m, j) => {
      const key = canonical(m);
      const first = seen.get(key);
      if (first === undefined) return void seen.set(key, i);
      duplicates.add(`${i}.${j}`);
      taken++;
      p.error(`${at}.match[${j}]`, `is never used: rule ${first} has the same match and comes first`, "TRL1019");
    });
    if (taken === matches.length) p.error(at, "is never used: every one of its matches is taken by an earlier rule", "TRL1018");
  });
  if (kind === "http") reportCoveredPrefixes(p, routes, duplicates);
}

export function virtualServiceProblems(spec: unknown, namespace: string): WebhookProblem[] {
  const p = new Problems();
  const s = obj(spec);
  const hosts = arr(s.hosts).filter((h): h is string => typeof h === "string");
  const gateways = arr(s.gateways).filter((g): g is string => typeof g === "string");
  const delegate = hosts.length === 0;
  if (delegate) {
    if (gateways.length) p.error("spec.gateways", "a delegate VirtualService (one without hosts) takes its gateways from its parent; remove them", "TRL0019");
    for (const k of ["tls", "tcp"]) if (arr(s[k]).length) p.error(`spec.${k}`, `a delegate VirtualService (one without hosts) can hold only http routes, not ${k}`, "TRL0019");
  }
  const toMesh = gateways.length === 0 || gateways.includes("mesh");
  hosts.forEach((h, i) => {
    if (h === "*" && toMesh) p.error(`spec.hosts[${i}]`, `"*" is not allowed for a VirtualService bound to the mesh; name the hosts, or bind it to a gateway`, "TRL0015");
    for (let j = i + 1; j < hosts.length; j++) if (overlaps(h, hosts[j])) p.error(`spec.hosts[${j}]`, `overlaps spec.hosts[${i}] ("${h}"); list each host once`, "TRL0015");
  });
  // JWT claim routing is done by gateways only.
  if (toMesh) {
    arr(s.http).forEach((r, i) => arr(obj(r).match).forEach((m, j) => {
      for (const field of ["headers", "withoutHeaders"]) {
        for (const name of Object.keys(obj(obj(m)[field]))) {
          if (name.startsWith("@request.auth.claims")) p.error(`spec.http[${i}].match[${j}].${field}`, `JWT claim routing ("${name}") works only on gateways; bind this VirtualService to a gateway`);
        }
      }
    }));
  }
  if (!arr(s.http).length && !arr(s.tcp).length && !arr(s.tls).length) p.error("spec", "a VirtualService needs http, tcp or tls routes", "TRL0012");
  arr(s.http).forEach((r, i) => httpRoute(p, obj(r), `spec.http[${i}]`, delegate));
  exportToProblems(p, s.exportTo, namespace, { allowNone: false });
  for (const kind of ["http", "tcp", "tls"]) unreachable(p, arr(s[kind]), kind);
  return p.list;
}
