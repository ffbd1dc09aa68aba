// ServiceEntry rules that Istio's validating webhook enforces and the CRD schema lets through: endpoints that do not fit
// the resolution, hosts DNS cannot resolve, ports defined twice, after istio/istio pkg/config/validation
// ValidateServiceEntry. Each problem names its field.
import { isIP } from "node:net";
import type { Code } from "../codes.js";
import { asArray, asObject } from "./reporter.js";

export interface ServiceEntryProblem {
  code: Code;
  path: string;
  message: string;
}

const FQDN_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;

/** Istio's ValidateFQDN: at least two labels, no wildcard, each label a DNS label. */
function isFqdn(name: string): boolean {
  const labels = name.replace(/\.$/, "").split(".");
  return name.length <= 255 && labels.length >= 2 && labels.every((l) => FQDN_LABEL.test(l));
}

/** Protocols whose traffic says which host it is for (Host header or SNI), so hosts sharing a port can be told apart. */
const NAMED_TRAFFIC = new Set(["HTTP", "HTTP2", "HTTPS", "GRPC", "GRPC-WEB", "TLS"]);

export function serviceEntryProblems(spec: unknown): ServiceEntryProblem[] {
  const out: ServiceEntryProblem[] = [];
  const add = (code: Code, path: string, problem: string) => out.push({ code, path, message: `${path}: ${problem}` });
  const s = asObject(spec);
  const resolution = typeof s.resolution === "string" ? s.resolution : "NONE";
  const hosts = asArray(s.hosts);
  const endpoints = asArray(s.endpoints).map(asObject);
  const ports = asArray(s.ports).map(asObject);

  if (s.workloadSelector !== undefined && s.endpoints !== undefined) add("TRL0019", "spec.endpoints", "only one of workloadSelector or endpoints is allowed; select WorkloadEntries or list the endpoints inline");
  hosts.forEach((h, i) => {
    if (h === "*") add("TRL0015", `spec.hosts[${i}]`, `"*" is not allowed in a ServiceEntry; name the hosts (a leading wildcard such as "*.example.com" is allowed with resolution NONE)`);
  });
  if (asArray(s.addresses).some((a) => typeof a === "string" && a.includes("/")) && resolution !== "NONE" && resolution !== "STATIC") {
    add("TRL0019", "spec.resolution", `CIDR addresses are allowed only with resolution NONE or STATIC, not ${resolution}`);
  }
  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  ports.forEach((p, i) => {
    if (typeof p.name === "string") {
      if (names.has(p.name)) add("TRL0020", `spec.ports[${i}].name`, `port name "${p.name}" is already defined by spec.ports[${names.get(p.name)}]; port names must be unique`);
      else names.set(p.name, i);
    }
    if (typeof p.number === "number") {
      if (numbers.has(p.number)) add("TRL0020", `spec.ports[${i}].number`, `port ${p.number} is already defined by spec.ports[${numbers.get(p.number)}]; port numbers must be unique`);
      else numbers.set(p.number, i);
    }
  });
  const endpointPorts = (e: Record<string, unknown>, i: number) => {
    for (const name of Object.keys(asObject(e.ports))) {
      if (!names.has(name)) add("TRL0020", `spec.endpoints[${i}].ports.${name}`, `"${name}" is not a port of this ServiceEntry; use one of spec.ports[].name (${[...names.keys()].join(", ") || "none defined"})`);
    }
  };

  switch (resolution) {
    case "NONE":
      if (endpoints.length) add("TRL0019", "spec.endpoints", "no endpoints may be given with resolution NONE (traffic goes to the address the application dialed); remove them or use resolution STATIC or DNS");
      break;
    case "STATIC":
      endpoints.forEach((e, i) => {
        const address = e.address;
        if (typeof address === "string" && !address.startsWith("unix://") && !isIP(address)) add("TRL0020", `spec.endpoints[${i}].address`, `"${address}" is not an IP address; resolution STATIC takes IPs (use resolution DNS for host names)`);
        endpointPorts(e, i);
      });
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) add("TRL0019", "spec.endpoints", `resolution DNS_ROUND_ROBIN takes at most one endpoint, not ${endpoints.length}; use resolution DNS for several`);
      if (endpoints.length === 0) {
        hosts.forEach((h, i) => {
          if (typeof h === "string" && h !== "*" && !isFqdn(h)) add("TRL0015", `spec.hosts[${i}]`, `"${h}" must be a fully qualified name when resolution ${resolution} has no endpoints (the hosts themselves are resolved); list endpoints or use resolution NONE for wildcards`);
        });
      }
      endpoints.forEach((e, i) => {
        const address = e.address;
        if (typeof address === "string" && !isIP(address) && !isFqdn(address)) add("TRL0020", `spec.endpoints[${i}].address`, `"${address}" is neither an IP address nor a fully qualified host name`);
        endpointPorts(e, i);
      });
      break;
    case "DYNAMIC_DNS":
      // Valid Istio (a dynamic forward proxy for wildcard hosts), so accepted; but not silently: Trellis's proxy lacks it.
      add("TRL0006", "spec.resolution", "resolution DYNAMIC_DNS is valid Istio, but Trellis's proxy does not implement the dynamic forward proxy it needs, so these hosts get no cluster; use resolution NONE (passthrough to the address the app dialed) or DNS with named hosts");
      break;
    default:
      add("TRL0020", "spec.resolution", `resolution ${resolution} is not supported; use NONE, STATIC, DNS or DNS_ROUND_ROBIN`);
  }
  // Plain TCP (and a port without a protocol, as Istio reads it) carries no host name, so several hosts on one such
  // port cannot be told apart; NONE ignores the hosts.
  if (resolution !== "NONE" && hosts.length > 1) {
    const i = ports.findIndex((p) => typeof p.protocol !== "string" || !NAMED_TRAFFIC.has(p.protocol.toUpperCase()));
    if (i >= 0) add("TRL0019", "spec.hosts", `several hosts with the ${typeof ports[i].protocol === "string" ? String(ports[i].protocol) : "unnamed-protocol"} port spec.ports[${i}] cannot be told apart; use one host per ServiceEntry, give the port an HTTP or TLS protocol, or use resolution NONE`);
  }
  return out;
}
