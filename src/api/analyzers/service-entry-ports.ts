// ServiceEntry checks across resources, after istioctl analyze: one host and port given different protocols by
// several ServiceEntries (IST0177), and TCP ports that need an address to be told apart (IST0134). Trellis gives
// every named host a VIP itself (as Istio's DNS auto-allocation does), so only entries it cannot address are reported.
import type { LoadedResource } from "../load.js";
import { asArray, asObject, ns, type Report } from "./reporter.js";

export function analyzeServiceEntryPorts(resources: LoadedResource[], report: Report): void {
  const entries = resources.filter((r) => r.kind === "ServiceEntry");
  const seen = new Map<string, { se: LoadedResource; protocol: string }[]>();
  for (const se of entries) {
    const spec = asObject(se.spec);
    for (const host of asArray(spec.hosts).filter((h): h is string => typeof h === "string")) {
      for (const port of asArray(spec.ports).map(asObject)) {
        const key = `${host}|${String(port.number)}`;
        seen.set(key, [...(seen.get(key) ?? []), { se, protocol: typeof port.protocol === "string" ? port.protocol.toUpperCase() : "(unset)" }]);
      }
    }
    const unaddressed = spec.resolution === undefined || spec.resolution === "NONE" || asArray(spec.hosts).some((h) => typeof h === "string" && h.includes("*"));
    if (asArray(spec.addresses).length > 0 || !unaddressed) continue;
    asArray(spec.ports).map(asObject).forEach((port, i) => {
      if (port.protocol !== undefined && String(port.protocol).toUpperCase() !== "TCP") return;
      report(se, "TRL1026", `spec.ports[${i}]`, `TCP port ${String(port.number)} carries no host name and this entry gets no address (resolution NONE or a wildcard host), so its traffic cannot be told from other TCP traffic on that port; add spec.addresses or use an HTTP or TLS protocol`);
    });
  }
  for (const [key, claims] of seen) {
    const protocols = [...new Set(claims.map((c) => c.protocol))];
    if (protocols.length < 2) continue;
    const [host, port] = key.split("|");
    const names = [...new Set(claims.map((c) => `${ns(c.se)}/${c.se.metadata.name}`))].sort().join(", ");
    for (const se of new Set(claims.map((c) => c.se))) report(se, "TRL1025", "spec.ports", `ServiceEntries ${names} give ${host} port ${port} different protocols (${protocols.join(", ")}); only one can apply. Use one protocol`);
  }
}
