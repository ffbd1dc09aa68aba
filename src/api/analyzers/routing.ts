// VirtualService checks: weights, subsets, gateways, hosts, and hosts claimed twice.
import type { LoadedResource } from "../load.js";
import type { MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

const ROUTE_KINDS = ["http", "tcp", "tls"] as const;

interface Destination {
  host: string;
  subset?: string;
  path: string;
}

function destinations(vs: LoadedResource): Destination[] {
  const out: Destination[] = [];
  const spec = asObject(vs.spec);
  for (const kind of ROUTE_KINDS) {
    asArray(spec[kind]).forEach((route, i) => {
      const r = asObject(route);
      asArray(r.route).forEach((dest, j) => {
        const d = asObject(asObject(dest).destination);
        if (typeof d.host === "string") out.push({ host: d.host, subset: typeof d.subset === "string" ? d.subset : undefined, path: `spec.${kind}[${i}].route[${j}].destination` });
      });
      const mirror = asObject(r.mirror);
      if (typeof mirror.host === "string") out.push({ host: mirror.host, subset: typeof mirror.subset === "string" ? mirror.subset : undefined, path: `spec.${kind}[${i}].mirror` });
      asArray(r.mirrors).forEach((m, j) => {
        const d = asObject(asObject(m).destination);
        if (typeof d.host === "string") out.push({ host: d.host, subset: typeof d.subset === "string" ? d.subset : undefined, path: `spec.${kind}[${i}].mirrors[${j}].destination` });
      });
    });
  }
  return out;
}

function checkWeights(vs: LoadedResource, report: Report): void {
  const spec = asObject(vs.spec);
  for (const kind of ROUTE_KINDS) {
    asArray(spec[kind]).forEach((route, i) => {
      const dests = asArray(asObject(route).route).map(asObject);
      // A lone destination takes all traffic whatever its weight says (Istio's rule).
      if (dests.length < 2) return;
      const sum = dests.reduce((s, d) => s + (typeof d.weight === "number" ? d.weight : 0), 0);
      if (sum !== 100) {
        const weights = dests.map((d) => (typeof d.weight === "number" ? d.weight : "unset")).join(" + ");
        report(vs, "TRL1001", `spec.${kind}[${i}].route`, `the route weights add up to ${sum} (${weights}), not 100; adjust them so traffic shares sum to 100`);
      }
    });
  }
}

/** The gateways a VirtualService (or one of its routes) binds to; "mesh" when none are named. */
function gatewaysOf(vs: LoadedResource): string[] {
  const g = asArray(asObject(vs.spec).gateways).filter((x): x is string => typeof x === "string");
  return g.length ? g : ["mesh"];
}

function gatewayKey(ref: string, namespace: string): string {
  return ref === "mesh" ? "mesh" : ref.includes("/") ? ref : `${namespace}/${ref}`;
}

export function analyzeRouting(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  const vss = resources.filter((r) => r.kind === "VirtualService");
  const drs = resources.filter((r) => r.kind === "DestinationRule");
  // Istio's Gateways and the Gateway API's both take VirtualServices (Istio binds a VirtualService to either).
  const gateways = new Set(resources.filter((r) => r.kind === "Gateway").map((g) => `${ns(g)}/${g.metadata.name}`));
  const subsetsByHost = new Map<string, Set<string>>();
  for (const dr of drs) {
    const spec = asObject(dr.spec);
    if (typeof spec.host !== "string") continue;
    const host = mesh.fqdn(spec.host, ns(dr));
    const set = subsetsByHost.get(host) ?? new Set<string>();
    for (const s of asArray(spec.subsets)) if (typeof asObject(s).name === "string") set.add(asObject(s).name as string);
    subsetsByHost.set(host, set);
  }
  const claims = new Map<string, LoadedResource>();
  for (const vs of vss) {
    const namespace = ns(vs);
    checkWeights(vs, report);
    for (const d of destinations(vs)) {
      const host = mesh.fqdn(d.host, namespace);
      if (d.subset !== undefined && !subsetsByHost.get(host)?.has(d.subset)) {
        const defined = [...(subsetsByHost.get(host) ?? [])];
        report(vs, "TRL1002", `${d.path}.subset`, `subset "${d.subset}" of ${host} is defined by no DestinationRule${defined.length ? ` (defined: ${defined.join(", ")})` : ""}; add it to a DestinationRule for ${d.host} or fix the name`);
      }
      if (mesh.servicesKnown && mesh.servicesFor(d.host, namespace).length === 0) {
        report(vs, "TRL1007", `${d.path}.host`, `destination host "${d.host}" (${host}) matches no known service; traffic to it would fail. Fix the name or add a ServiceEntry`);
      }
    }
    const bound = gatewaysOf(vs);
    asArray(asObject(vs.spec).gateways).forEach((g, i) => {
      if (typeof g !== "string" || g === "mesh") return;
      if (!gateways.has(gatewayKey(g, namespace))) report(vs, "TRL1005", `spec.gateways[${i}]`, `gateway "${g}" (${gatewayKey(g, namespace)}) does not exist; create it or bind to an existing gateway`);
    });
    asArray(asObject(vs.spec).hosts).forEach((h, i) => {
      if (typeof h !== "string") return;
      const host = mesh.fqdn(h, namespace);
      if (bound.includes("mesh") && mesh.servicesKnown && h !== "*" && mesh.servicesFor(h, namespace).length === 0) {
        report(vs, "TRL1006", `spec.hosts[${i}]`, `host "${h}" (${host}) matches no known service, so sidecars will never use these routes; fix the name or add a ServiceEntry`);
      }
      for (const g of bound) {
        const key = `${gatewayKey(g, namespace)}|${host}`;
        const other = claims.get(key);
        if (other && other !== vs) {
          report(vs, "TRL1004", `spec.hosts[${i}]`, `host ${host} on gateway ${gatewayKey(g, namespace)} is also claimed by VirtualService ${ns(other)}/${other.metadata.name}; merge their routes into one VirtualService (Istio would pick one arbitrarily)`);
        } else claims.set(key, vs);
      }
    });
  }
}
