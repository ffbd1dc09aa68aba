// Checks for the string formats Istio's schemas describe only in prose: durations, hosts, labels, CIDRs, ports.
import { isIPv4, isIPv6 } from "node:net";

/** Go's time.ParseDuration syntax, which Istio's CRDs accept ("10s", "1.5s", "1m30s", "100ms"); undefined if invalid. */
export function parseGoDuration(text: string): number | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * units[m[2]];
    consumed = re.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}

export function durationProblem(text: unknown, minMs = 0): string | undefined {
  if (typeof text !== "string") return undefined;
  const ms = parseGoDuration(text);
  if (ms === undefined) return `"${text}" is not a duration; write it like "10s", "1.5s", "500ms" or "1m"`;
  if (ms < minMs) return `"${text}" is shorter than the minimum of ${minMs}ms`;
  return undefined;
}

const DNS_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9_]{0,61}[a-zA-Z0-9])?$/;

/**
 * Istio's host rules: a DNS name (short or FQDN), optionally with a leading "*." wildcard, or "*" alone.
 * IP addresses are allowed where Istio allows them (ServiceEntry addresses are checked separately).
 */
export function hostProblem(host: unknown): string | undefined {
  if (typeof host !== "string") return undefined;
  if (host === "") return "the host is empty";
  if (host === "*") return undefined;
  let name = host;
  // Istio takes a wildcard only at the start of the first label: "*.example.com", and also "*x.example.com".
  const first = name.split(".")[0];
  if (name.slice(first.length).includes("*") || first.lastIndexOf("*") > 0) {
    return `"${host}": a wildcard may only lead the first label (e.g. "*.example.com") or be "*" alone`;
  }
  if (first === "*") name = name.slice(2);
  else if (first.startsWith("*")) name = name.slice(1);
  if (host.includes("/")) return `"${host}" contains "/"; write the bare host name (namespaces go in exportTo or in Sidecar's "ns/host" form)`;
  if (isIPv4(name) || isIPv6(name)) return undefined;
  if (name.length > 253) return `"${host}" is longer than 253 characters`;
  const labels = name.replace(/\.$/, "").split(".");
  const bad = labels.find((l) => !DNS_LABEL.test(l));
  if (bad !== undefined) return `"${host}" is not a valid host name: label "${bad}" must be 1-63 letters, digits or '-', not starting or ending with '-'`;
  return undefined;
}

/** Sidecar egress and Gateway server hosts: "namespace/host" with namespace "*", "." or "~" allowed. */
export function namespacedHostProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const slash = value.indexOf("/");
  if (slash < 0) return `"${value}" must be written as "namespace/host" (e.g. "./*", "istio-system/*", "*/reviews.default.svc.cluster.local")`;
  const ns = value.slice(0, slash);
  const host = value.slice(slash + 1);
  if (ns !== "*" && ns !== "." && ns !== "~" && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) return `"${value}": namespace "${ns}" must be a namespace name, "*", "." or "~"`;
  return hostProblem(host);
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX.test(prefix))) return `label key "${key}": the prefix must be a DNS subdomain (e.g. "app.kubernetes.io/")`;
  if (!LABEL_NAME.test(name)) return `label key "${key}" must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  return undefined;
}

export function labelValueProblem(key: string, value: unknown): string | undefined {
  if (typeof value !== "string") return `label "${key}" must have a string value (quote numbers and booleans: "1", "true")`;
  if (value === "") return undefined;
  if (value.length > 63 || !LABEL_NAME.test(value)) return `label "${key}": value "${value}" must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  return undefined;
}

/** An IP address or a CIDR ("10.0.0.0/8", "2001:db8::/32"); Istio's ipBlocks accept both. */
export function cidrProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const [ip, len, ...rest] = value.split("/");
  if (rest.length > 0) return `"${value}" is not a CIDR; write it like "10.0.0.0/16" or "192.168.1.7"`;
  const v4 = isIPv4(ip);
  if (!v4 && !isIPv6(ip)) return `"${value}" is not an IP address or CIDR; write it like "10.0.0.0/16" or "192.168.1.7"`;
  if (len === undefined) return undefined;
  const n = Number(len);
  const max = v4 ? 32 : 128;
  if (!/^\d+$/.test(len) || n > max) return `"${value}": the prefix length must be 0-${max}`;
  return undefined;
}

export function portProblem(value: unknown): string | undefined {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number") return undefined;
  if (!Number.isInteger(n) || n < 1 || n > 65535) return `${String(value)} is not a port; ports are 1-65535`;
  return undefined;
}
