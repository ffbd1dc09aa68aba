// Checks across Istio Gateways and the VirtualServices bound to them, after istioctl analyze: a VirtualService host no
// server of its gateway takes (IST0132), gateways that claim the same host and port for the same workloads (IST0145),
// one certificate served by two gateways of the same workloads (IST0138), a selector no workload carries (IST0101), a
// server port the Service in front of the gateway's workloads does not expose (IST0162).
import { isGatewayApi } from "../kinds.js";
import type { LoadedResource } from "../load.js";
import { matchesLabels, type MeshContext } from "../mesh-context.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

type Labels = Record<string, string>;

/** Istio's host.Name.Matches: equal, or one is a wildcard covering the other. */
function overlaps(a: string, b: string): boolean {
  if (a === b || a === "*" || b === "*") return true;
  if (a.startsWith("*") && b.endsWith(a.slice(1))) return true;
  return b.startsWith("*") && a.endsWith(b.slice(1));
}

const selectorOf = (gw: LoadedResource) => asObject(asObject(gw.spec).selector) as Labels;
const selectorText = (s: Labels) => Object.entries(s).sort().map(([k, v]) => `${k}=${v}`).join(",");
const servers = (gw: LoadedResource) => asArray(asObject(gw.spec).servers).map(asObject);

/** A server host ("ns/host", "./host" or "host") as a VirtualService in `vsNamespace` sees it, or undefined if hidden. */
function hostFor(entry: string, gatewayNamespace: string, vsNamespace: string): string | undefined {
  const slash = entry.indexOf("/");
  if (slash < 0) return entry;
  const [scope, host] = [entry.slice(0, slash), entry.slice(slash + 1)];
  const visibleTo = scope === "." ? gatewayNamespace : scope;
  return visibleTo === "*" || visibleTo === vsNamespace ? host : undefined;
}

function hostsNotInGateways(resources: LoadedResource[], byName: Map<string, LoadedResource>, report: Report): void {
  for (const vs of resources.filter((r) => r.kind === "VirtualService")) {
    const hosts = asArray(asObject(vs.spec).hosts).filter((h): h is string => typeof h === "string");
    asArray(asObject(vs.spec).gateways).forEach((g, i) => {
      if (typeof g !== "string" || g === "mesh") return;
      const key = g.includes("/") ? g : `${ns(vs)}/${g}`;
      const gw = byName.get(key);
      if (!gw) return;
      const offered = servers(gw).flatMap((s) => asArray(s.hosts)).filter((h): h is string => typeof h === "string").map((h) => hostFor(h, ns(gw), ns(vs))).filter((h): h is string => h !== undefined);
      if (hosts.some((h) => offered.some((o) => overlaps(o, h)))) return;
      report(vs, "TRL1014", `spec.gateways[${i}]`, `none of the hosts [${hosts.join(", ")}] is served by Gateway ${key} (its servers take [${offered.join(", ") || "nothing visible to namespace " + ns(vs)}]), so this binding routes nothing; add the host to a server of the Gateway or fix the VirtualService's hosts`);
    });
  }
}

/** Selector `a` picks every workload `b` picks: each of a's labels is one of b's. */
const within = (a: Labels, b: Labels) => Object.entries(a).every(([k, v]) => b[k] === v);

/** Whether two gateways' selectors pick shared workloads: one selector within the other, or a known workload both pick. */
function shareWorkloads(a: LoadedResource, b: LoadedResource, mesh: MeshContext): boolean {
  const [sa, sb] = [selectorOf(a), selectorOf(b)];
  if (within(sa, sb) || within(sb, sa)) return true;
  return mesh.workloadsKnown && mesh.workloads.some((w) => matchesLabels(sa, w.labels) && matchesLabels(sb, w.labels));
}

function conflictingServers(gateways: LoadedResource[], mesh: MeshContext, report: Report): void {
  for (const gw of gateways) {
    const sel = selectorText(selectorOf(gw));
    const sameWorkloads = gateways.filter((o) => o !== gw && shareWorkloads(gw, o, mesh));
    if (sameWorkloads.length === 0) continue;
    servers(gw).forEach((server, i) => {
      const port = asObject(server.port).number;
      const hosts = asArray(server.hosts).filter((h): h is string => typeof h === "string").map((h) => h.slice(h.indexOf("/") + 1));
      const rivals = sameWorkloads.filter((o) => servers(o).some((s) =>
        asObject(s.port).number === port && (s.bind ?? "") === (server.bind ?? "") && asArray(s.hosts).some((h) => typeof h === "string" && hosts.some((x) => overlaps(x, h.slice(h.indexOf("/") + 1))))));
      if (rivals.length === 0) return;
      const names = rivals.map((o) => `${ns(o)}/${o.metadata.name}`).sort().join(", ");
      report(gw, "TRL1015", `spec.servers[${i}]`, `port ${String(port)} hosts [${hosts.join(", ")}] on the workloads selected by ${sel || "(every gateway)"} are also claimed by Gateway ${names}; only one of them takes effect. Merge the servers into one Gateway or use distinct hosts`);
    });
  }
}

function sameCertificate(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  if (a.credentialName && b.credentialName) return a.credentialName === b.credentialName;
  if (a.credentialName || b.credentialName) return false;
  return !!a.serverCertificate && a.serverCertificate === b.serverCertificate && !!a.privateKey && a.privateKey === b.privateKey;
}

function duplicateCertificates(gateways: LoadedResource[], report: Report): void {
  for (const gw of gateways) {
    const sel = selectorOf(gw);
    const peers = gateways.filter((o) => o !== gw && Object.entries(sel).every(([k, v]) => selectorOf(o)[k] === undefined ? false : selectorOf(o)[k] === v));
    for (const other of peers) {
      const shared = servers(gw).some((s) => s.tls && servers(other).some((t) => t.tls && sameCertificate(asObject(s.tls), asObject(t.tls))));
      if (shared) report(gw, "TRL1016", "metadata.name", `Gateway ${ns(other)}/${other.metadata.name} serves the same certificate on the same workloads; HTTP/2 clients that reuse a connection across both hosts may get 404s. Give each Gateway its own certificate or merge them`);
    }
  }
}

export function analyzeGateways(resources: LoadedResource[], mesh: MeshContext, report: Report): void {
  const gateways = resources.filter((r) => r.kind === "Gateway" && !isGatewayApi(r));
  const byName = new Map(gateways.map((g) => [`${ns(g)}/${g.metadata.name}`, g]));
  hostsNotInGateways(resources, byName, report);
  conflictingServers(gateways, mesh, report);
  duplicateCertificates(gateways, report);
  if (!mesh.workloadsKnown) return;
  for (const gw of gateways) {
    const sel = selectorOf(gw);
    if (Object.keys(sel).length === 0) continue;
    const pods = mesh.workloads.filter((w) => matchesLabels(sel, w.labels));
    if (pods.length === 0) {
      report(gw, "TRL1017", "spec.selector", `no workload carries the labels ${selectorText(sel)}, so no gateway proxy serves this Gateway; fix the selector or start the gateway (trellis gateway, or its Deployment)`);
      continue;
    }
    portsOnService(gw, pods, mesh, report);
  }
}

/** The ports a Service in front of the gateway's workloads exposes; only checked when such a Service is known. */
function portsOnService(gw: LoadedResource, pods: Array<{ namespace: string; labels: Labels }>, mesh: MeshContext, report: Report): void {
  const fronting = mesh.services.filter((s) => s.selector && Object.keys(s.selector).length > 0 && pods.some((w) => w.namespace === s.namespace && matchesLabels(s.selector, w.labels)));
  if (fronting.length === 0) return;
  const open = new Set<number>();
  for (const p of fronting.flatMap((s) => s.ports ?? [])) {
    if (p.protocol !== undefined && p.protocol.toUpperCase() !== "TCP") continue;
    open.add(p.targetPort ?? p.port);
    open.add(p.port);
  }
  servers(gw).forEach((server, i) => {
    const port = asObject(server.port).number;
    if (typeof port !== "number" || open.has(port)) return;
    report(gw, "TRL1028", `spec.servers[${i}].port.number`, `the gateway listens on port ${port}, which Service ${fronting.map((s) => s.hostname).join(", ")} in front of its workloads does not expose, so clients cannot reach it; add the port to the Service or use one it exposes`);
  });
}
