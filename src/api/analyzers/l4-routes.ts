// VirtualService tcp and tls routes: what Istio's validation refuses and the CRD schema lets through (empty lists
// where one entry is required, SNI hosts outside the VirtualService's hosts), after istio/istio
// pkg/config/validation/validation.go validateTLSRoute, validateTLSMatch, validateSniHost and validateTCPRoute.
import type { Code } from "../codes.js";
import { hostProblem } from "../formats.js";
import { asArray, asObject } from "./reporter.js";

export interface L4RouteProblem {
  code: Code;
  path: string;
  message: string;
}

/** Istio's host.Name.SubsetOf: `sni` is `host`, or falls under it when `host` is a wildcard ("*" covers all). */
function subsetOf(sni: string, host: string): boolean {
  if (sni.startsWith("*")) return host.startsWith("*") && sni.length >= host.length && sni.slice(1).endsWith(host.slice(1));
  if (host.startsWith("*")) return sni.endsWith(host.slice(1));
  return sni === host;
}

export function l4RouteProblems(spec: unknown): L4RouteProblem[] {
  const out: L4RouteProblem[] = [];
  const add = (code: Code, path: string, problem: string) => out.push({ code, path, message: `${path}: ${problem}` });
  const hosts = asArray(asObject(spec).hosts).filter((h): h is string => typeof h === "string");
  for (const kind of ["tcp", "tls"] as const) {
    asArray(asObject(spec)[kind]).forEach((route, i) => {
      const r = asObject(route);
      const path = `spec.${kind}[${i}]`;
      if (Array.isArray(r.route) && r.route.length === 0) add("TRL0012", `${path}.route`, `a ${kind} route needs at least one destination`);
      if (kind !== "tls") return;
      // tls routes are chosen by SNI, so every one needs a match, and every match a server name.
      if (Array.isArray(r.match) && r.match.length === 0) add("TRL0012", `${path}.match`, "a tls route needs at least one match (with sniHosts)");
      asArray(r.match).forEach((m, j) => {
        const sni = asObject(m).sniHosts;
        if (Array.isArray(sni) && sni.length === 0) add("TRL0012", `${path}.match[${j}].sniHosts`, "a tls match needs at least one SNI host");
        asArray(sni).forEach((name, k) => {
          // A malformed name is reported once, as such, by the format rules.
          if (typeof name !== "string" || hostProblem(name) || hosts.some((h) => subsetOf(name, h))) return;
          add("TRL0015", `${path}.match[${j}].sniHosts[${k}]`, `SNI host "${name}" is not one of the VirtualService's hosts [${hosts.join(", ")}] nor under one of their wildcards; add it to spec.hosts or fix the name`);
        });
      });
    });
  }
  return out;
}
