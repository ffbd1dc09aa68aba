// Values of the pod annotations Istio's injector reads, checked as its injector checks them before it mutates a pod
// (istio/istio pkg/kube/inject validate.go): interception mode, ports, CIDR lists, counts and booleans. Used by the
// analyzer (IST0125) and available to the injector, so both refuse the same values with the same words.
import { isIP } from "node:net";
import { parse } from "yaml";

type Check = (value: string) => string | undefined;

const uint32: Check = (v) => (/^\d+$/.test(v) && Number(v) <= 0xffffffff ? undefined : `"${v}" is not a whole number from 0 to 4294967295`);
const bool: Check = (v) => (/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(v) ? undefined : `"${v}" is not a boolean; use true or false`);

function port(v: string): string | undefined {
  const t = v.trim();
  return /^\d+$/.test(t) && Number(t) <= 65535 ? undefined : `"${v}" is not a port (0-65535)`;
}

function portList(v: string): string | undefined {
  if (v.trim() === "") return undefined;
  for (const p of v.split(",")) {
    const bad = port(p);
    if (bad) return bad;
  }
  return undefined;
}

function cidr(v: string): string | undefined {
  const [ip, bits, extra] = v.split("/");
  const family = isIP(ip);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || extra !== undefined || bits === undefined || !/^\d+$/.test(bits) || Number(bits) > max) return `"${v}" is not a CIDR (e.g. 10.0.0.0/8)`;
  return undefined;
}

function cidrList(v: string): string | undefined {
  if (v === "") return undefined;
  for (const c of v.split(",")) {
    const bad = cidr(c);
    if (bad) return bad;
  }
  return undefined;
}

function proxyConfig(v: string): string | undefined {
  try {
    const doc = parse(v);
    if (doc !== null && (typeof doc !== "object" || Array.isArray(doc))) return "is not a ProxyConfig (a YAML or JSON mapping)";
    return undefined;
  } catch (err) {
    return `is not YAML: ${(err as Error).message.split("\n")[0]}`;
  }
}

const CHECKS: Record<string, Check> = {
  "sidecar.istio.io/interceptionMode": (v) => (["REDIRECT", "TPROXY", "NONE"].includes(v) ? undefined : `"${v}" is not an interception mode; use REDIRECT, TPROXY or NONE`),
  "status.sidecar.istio.io/port": port,
  "readiness.status.sidecar.istio.io/initialDelaySeconds": uint32,
  "readiness.status.sidecar.istio.io/periodSeconds": uint32,
  "readiness.status.sidecar.istio.io/failureThreshold": uint32,
  "traffic.sidecar.istio.io/includeOutboundIPRanges": (v) => (v === "*" ? undefined : cidrList(v)),
  "traffic.sidecar.istio.io/excludeOutboundIPRanges": cidrList,
  "traffic.sidecar.istio.io/includeInboundPorts": (v) => (v === "*" ? undefined : portList(v)),
  "traffic.sidecar.istio.io/excludeInboundPorts": portList,
  "traffic.sidecar.istio.io/excludeOutboundPorts": portList,
  "prometheus.istio.io/merge-metrics": bool,
  "proxy.istio.io/config": proxyConfig,
};

/** What is wrong with an annotation's value, or undefined when it is fine or not one the injector checks. */
export function annotationValueProblem(name: string, value: string): string | undefined {
  return CHECKS[name]?.(value);
}
