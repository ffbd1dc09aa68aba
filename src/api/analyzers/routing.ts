// VirtualService checks: weights, subsets, gateways, hosts, and hosts claimed twice.
import type { LoadedResource } from "../load.js";
import type { MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

const ROUTE_KINDS = ["http", "tcp", "tls"] as const;

interface Destination {
  host: string;
  subset?: string;
  port?: number;
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
        const port = asObject(d.port).number;
        if (typeof d.host === "string") out.push({ host: d.host, subset: typeof d.subset === "string" ? d.subset : undefined, port: typeof port === "number" ? port : undefined, path: `spec.${kind}[${i}].route[${j}].destination` });
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

/**
 * Istio's webhook rule: weights are relative shares (Envoy normalises them), so only a route whose several
 * destinations all weigh 0 is refused; a lone destination takes all traffic whatever its weight says.
 */
function checkWeights(vs: LoadedResource, report: Report): void {
  const spec = asObject(vs.spec);
  for (const kind of ROUTE_KINDS) {
    asArray(spec[kind]).forEach((route, i) => {
      const dests = asArray(asObject(route).route).map(asObject);
      if (dests.length < 2) return;
      const sum = dests.reduce((s, d) => s + (typeof d.weight === "number" ? d.weight : 0), 0);
      if (sum === 0) report(vs, "TRL1001", `spec.${kind}[${i}].route`, `the ${dests.length} destinations' weights add up to 0, so no traffic could go anywhere; give each destination its share (weights are relative, e.g. 90 and 10)`);
    });
  }
}

/** Istio's destination port rules: a service with several ports needs the port named (IST0112), and it must be one of them. */
function checkPort(vs: LoadedResource, d: Destination, services: Array<{ ports?: Array<{ port: number }> }>, report: Report): void {
  const ports = [...new Set(services.flatMap((s) => (s.ports ?? []).map((p) => p.port)).filter((p) => Number.isFinite(p)))];
  if (services.length === 0 || ports.length === 0) return;
  if (d.port === undefined && ports.length > 1) {
    report(vs, "TRL1029", d.path, `${d.host} has several ports (${ports.join(", ")}), so the destination must say which: add port: {number: N}`);
  } else if (d.port !== undefined && !ports.includes(d.port)) {
    report(vs, "TRL1030", `${d.path}.port.number`, `${d.host} has no port ${d.port} (its ports: ${ports.join(", ")}); traffic to it would fail`);
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
      if (mesh.servicesKnown && d.path.includes(".route[")) checkPort(vs, d, mesh.services.filter((s) => s.hostname === host), report);
    }
    const bound = gatewaysOf(vs);
    asArray(asObject(vs.spec).gateways).forEach((g, i) => {
      if (typeof g !== "string" || g === "mesh") return;
      if (!gateways.has(gatewayKey(g, namespace))) report(vs, "TRL1005", `spec.gateways[${i}]`, `gateway "${g}" (${gatewayKey(g, namespace)}) does not exist; create it or bind to an existing gateway`);
    });
    asArray(asObject(vs.spec).hosts).forEach((h, i) => {
      if (typeof h !== "string") return;
      if (bound.includes("mesh") && mesh.servicesKnown && h !== "*" && mesh.servicesFor(h, namespace).length === 0) {
        report(vs, "TRL1006", `spec.hosts[${i}]`, `host "${h}" (${mesh.fqdn(h, namespace)}) matches no known service, so sidecars will never use these routes; fix the name or add a ServiceEntry`);
      }
    });
  }
}
