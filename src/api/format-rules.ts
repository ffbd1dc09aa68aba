// Which fields of which kinds carry durations, hosts, labels, CIDRs and ports, and the checks for them.
import { type Code } from "./codes.js";
import { cidrProblem, durationProblem, hostProblem, labelKeyProblem, labelValueProblem, namespacedHostProblem, portProblem } from "./formats.js";
import { l4RouteProblems } from "./analyzers/l4-routes.js";
import { serviceEntryProblems } from "./analyzers/service-entries.js";
import { destinationRuleLocalityProblems } from "./analyzers/locality-lb.js";

type Check = (value: unknown, key: string) => string | undefined;

interface Rule {
  kinds: RegExp;
  path: RegExp;
  code: Code;
  check: Check;
  /** Check object values (keyed maps such as portLevelMtls) instead of scalars. */
  objects?: true;
}

const I = "\\[\\d+\\]";
const ANY = /./;
const p = (s: string) => new RegExp(`^${s}$`);

/** Field names that are durations wherever they appear in Istio's APIs. */
const DURATION_KEYS = "(timeout|perTryTimeout|fixedDelay|exponentialDelay|connectTimeout|maxConnectionDuration|idleTimeout|time|interval|baseEjectionTime|warmupDurationSecs|ttl|drainTimeout)";

const labels: Check = (value, key) => labelKeyProblem(key) ?? labelValueProblem(key, value);
const host: Check = (v) => hostProblem(v);
/** Route and mirror destinations: Istio's validateDestination takes "*.example.com" but not "*" alone. */
const destinationHost: Check = (v) => (v === "*" ? `"*" is not a destination; name a host (a leading wildcard such as "*.example.com" is allowed)` : hostProblem(v));
const gatewayRef: Check = (v) => {
  if (typeof v !== "string" || v === "mesh") return undefined;
  const name = v.includes("/") ? v.slice(v.indexOf("/") + 1) : v;
  return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) ? undefined : `"${v}" is not a gateway reference; write "name", "namespace/name" or "mesh"`;
};
const gatewayHost: Check = (v) => (typeof v === "string" && v.includes("/") ? namespacedHostProblem(v) : hostProblem(v));

const RULES: Rule[] = [
  { kinds: ANY, path: p(`spec(\\..+)?\\.${DURATION_KEYS}`), code: "TRL0014", check: (v) => durationProblem(v) },
  { kinds: /^VirtualService$/, path: p(`spec\\.hosts${I}`), code: "TRL0015", check: host },
  { kinds: /^VirtualService$/, path: p(`spec\\.(http|tcp|tls)${I}\\.(route${I}\\.destination|mirror|mirrors${I}\\.destination)\\.host`), code: "TRL0015", check: destinationHost },
  { kinds: /^VirtualService$/, path: p(`spec\\.(gateways${I}|(http|tcp|tls)${I}\\.match${I}\\.gateways${I})`), code: "TRL0015", check: gatewayRef },
  { kinds: /^VirtualService$/, path: p(`spec\\.(http|tcp|tls)${I}\\.match${I}\\.sourceLabels\\..+`), code: "TRL0016", check: labels },
  { kinds: /^VirtualService$/, path: p(`spec\\.(http|tcp|tls)${I}\\.(route${I}\\.destination\\.port\\.number|match${I}\\.port)`), code: "TRL0018", check: portProblem },
  { kinds: /^VirtualService$/, path: p(`spec\\.(tcp|tls)${I}\\.match${I}\\.destinationSubnets${I}`), code: "TRL0017", check: cidrProblem },
  { kinds: /^VirtualService$/, path: p(`spec\\.tls${I}\\.match${I}\\.sniHosts${I}`), code: "TRL0015", check: host },
  { kinds: /^DestinationRule$/, path: p("spec\\.host"), code: "TRL0015", check: host },
  { kinds: /^DestinationRule$/, path: p(`spec\\.subsets${I}\\.labels\\..+`), code: "TRL0016", check: labels },
  { kinds: /^DestinationRule$/, path: p(`spec(\\.subsets${I})?\\.trafficPolicy\\.portLevelSettings${I}\\.port\\.number`), code: "TRL0018", check: portProblem },
  { kinds: /^ServiceEntry$/, path: p(`spec\\.hosts${I}`), code: "TRL0015", check: host },
  { kinds: /^ServiceEntry$/, path: p(`spec\\.addresses${I}`), code: "TRL0017", check: cidrProblem },
  { kinds: /^ServiceEntry$/, path: p(`spec\\.ports${I}\\.(number|targetPort)`), code: "TRL0018", check: portProblem },
  { kinds: /^ServiceEntry$/, path: p("spec\\.workloadSelector\\.labels\\..+"), code: "TRL0016", check: labels },
  { kinds: /^ServiceEntry$/, path: p(`spec\\.endpoints${I}\\.labels\\..+`), code: "TRL0016", check: labels },
  { kinds: /^ServiceEntry$/, path: p(`spec\\.endpoints${I}\\.ports\\..+`), code: "TRL0018", check: portProblem },
  { kinds: /^WorkloadEntry$/, path: p("spec\\.labels\\..+"), code: "TRL0016", check: labels },
  { kinds: /^WorkloadEntry$/, path: p("spec\\.ports\\..+"), code: "TRL0018", check: portProblem },
  { kinds: /^Sidecar$/, path: p(`spec\\.egress${I}\\.hosts${I}`), code: "TRL0015", check: namespacedHostProblem },
  { kinds: /^Sidecar$/, path: p("spec\\.workloadSelector\\.labels\\..+"), code: "TRL0016", check: labels },
  { kinds: /^Sidecar$/, path: p(`spec\\.(ingress|egress)${I}\\.port\\.number`), code: "TRL0018", check: portProblem },
  { kinds: /^Gateway$/, path: p(`spec\\.servers${I}\\.hosts${I}`), code: "TRL0015", check: gatewayHost },
  { kinds: /^Gateway$/, path: p("spec\\.selector\\..+"), code: "TRL0016", check: labels },
  { kinds: /^Gateway$/, path: p(`spec\\.servers${I}\\.port\\.number`), code: "TRL0018", check: portProblem },
  { kinds: /^(PeerAuthentication|AuthorizationPolicy|RequestAuthentication)$/, path: p("spec\\.selector\\.matchLabels\\..+"), code: "TRL0016", check: labels },
  { kinds: /^PeerAuthentication$/, path: p("spec\\.portLevelMtls\\.[^.]+"), code: "TRL0018", check: (_v, key) => portProblem(key), objects: true },
  { kinds: /^AuthorizationPolicy$/, path: p(`spec\\.rules${I}\\.from${I}\\.source\\.(ipBlocks|notIpBlocks|remoteIpBlocks|notRemoteIpBlocks)${I}`), code: "TRL0017", check: cidrProblem },
  { kinds: /^AuthorizationPolicy$/, path: p(`spec\\.rules${I}\\.to${I}\\.operation\\.(ports|notPorts)${I}`), code: "TRL0018", check: portProblem },
];

/** When-conditions whose values are IPs or CIDRs. */
const CIDR_CONDITION_KEYS = new Set(["source.ip", "remote.ip", "destination.ip"]);

export interface FormatProblem {
  code: Code;
  path: string;
  message: string;
}

function visit(value: unknown, path: string, key: string, fn: (value: unknown, path: string, key: string) => void): void {
  fn(value, path, key);
  if (Array.isArray(value)) value.forEach((v, i) => visit(v, `${path}[${i}]`, key, fn));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) visit(v, `${path}.${k}`, k, fn);
}

export function formatProblems(kind: string, spec: unknown): FormatProblem[] {
  const rules = RULES.filter((r) => r.kinds.test(kind));
  const out: FormatProblem[] = [];
  visit(spec, "spec", "spec", (value, path, key) => {
    const isObject = value !== null && typeof value === "object";
    for (const r of rules) {
      if (isObject !== (r.objects === true) || !r.path.test(path)) continue;
      const problem = r.check(value, key);
      if (problem) out.push({ code: r.code, path, message: `${path}: ${problem}` });
    }
  });
  if (kind === "VirtualService") out.push(...l4RouteProblems(spec));
  if (kind === "ServiceEntry") out.push(...serviceEntryProblems(spec));
  if (kind === "DestinationRule") out.push(...destinationRuleLocalityProblems(spec));
  if (kind === "AuthorizationPolicy") {
    const rules = (spec as { rules?: Array<{ when?: Array<{ key?: string; values?: unknown[]; notValues?: unknown[] }> }> })?.rules ?? [];
    rules.forEach((rule, i) => (Array.isArray(rule?.when) ? rule.when : []).forEach((cond, j) => {
      if (!cond || !CIDR_CONDITION_KEYS.has(String(cond.key))) return;
      for (const field of ["values", "notValues"] as const) {
        (Array.isArray(cond[field]) ? cond[field]! : []).forEach((v, k) => {
          const problem = cidrProblem(v);
          const path = `spec.rules[${i}].when[${j}].${field}[${k}]`;
          if (problem) out.push({ code: "TRL0017", path, message: `${path}: ${problem}` });
        });
      }
    }));
  }
  return out;
}
