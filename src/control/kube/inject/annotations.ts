// The pod annotations users steer injection with (Istio's names), parsed and checked: a value we cannot honour, two
// that contradict each other, or a sidecar/traffic annotation Trellis does not act on refuses the pod by name.
import { parse as parseYaml } from "yaml";
import { applyProxyConfig, InjectConfigError, type InjectSettings, type ProxyDefaults } from "./inject-settings.js";

export const A = {
  inject: "sidecar.istio.io/inject",
  status: "sidecar.istio.io/status",
  interceptionMode: "sidecar.istio.io/interceptionMode",
  nativeSidecar: "sidecar.istio.io/nativeSidecar",
  proxyCPU: "sidecar.istio.io/proxyCPU",
  proxyMemory: "sidecar.istio.io/proxyMemory",
  proxyCPULimit: "sidecar.istio.io/proxyCPULimit",
  proxyMemoryLimit: "sidecar.istio.io/proxyMemoryLimit",
  proxyConfig: "proxy.istio.io/config",
  includeOutboundIPRanges: "traffic.sidecar.istio.io/includeOutboundIPRanges",
  excludeOutboundIPRanges: "traffic.sidecar.istio.io/excludeOutboundIPRanges",
  includeOutboundPorts: "traffic.sidecar.istio.io/includeOutboundPorts",
  excludeOutboundPorts: "traffic.sidecar.istio.io/excludeOutboundPorts",
  includeInboundPorts: "traffic.sidecar.istio.io/includeInboundPorts",
  excludeInboundPorts: "traffic.sidecar.istio.io/excludeInboundPorts",
} as const;

const HONOURED = new Set<string>(Object.values(A));

/** What the annotations (over the settings' defaults) ask of this pod's sidecar and interception. */
export interface PodInjectOptions {
  proxy: ProxyDefaults;
  nativeSidecar: boolean;
  resources: InjectSettings["resources"];
  includeOutboundCidrs: string[] | "*";
  excludeOutboundCidrs: string[];
  includeOutboundPorts: number[];
  excludeOutboundPorts: number[];
  includeInboundPorts: number[] | "*";
  excludeInboundPorts: number[];
}

export class InjectRefusal extends Error {
  readonly code = "TRELLIS_INJECT_REFUSED";
}

const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function cidrs(name: string, value: string, star: boolean): string[] | "*" {
  const v = value.trim();
  if (star && v === "*") return "*";
  if (v === "") return [];
  return v.split(",").map((c) => {
    const t = c.trim();
    const m = IPV4_CIDR.exec(t);
    if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) throw new InjectRefusal(`annotation ${name}: "${t}" is not an IPv4 CIDR such as 10.0.0.0/8${star ? ' (or "*" for all)' : ""}`);
    return t;
  });
}

function ports(name: string, value: string, star: boolean): number[] | "*" {
  const v = value.trim();
  if (star && v === "*") return "*";
  if (v === "") return [];
  return v.split(",").map((p) => {
    const t = p.trim();
    const n = Number(t);
    if (!/^\d+$/.test(t) || n < 1 || n > 65535) throw new InjectRefusal(`annotation ${name}: "${t}" is not a port number (1-65535)${star ? ' or "*"' : ""}`);
    return n;
  });
}

function bool(name: string, value: string): boolean {
  if (value !== "true" && value !== "false") throw new InjectRefusal(`annotation ${name}: "${value}" must be "true" or "false"`);
  return value === "true";
}

function quantity(name: string, value: string): string {
  if (!QUANTITY.test(value)) throw new InjectRefusal(`annotation ${name}: "${value}" is not a Kubernetes quantity such as 100m, 0.5, 128Mi or 1Gi`);
  return value;
}

function clash(a: string, b: string, x: number[] | string[] | "*", y: number[] | string[]): void {
  if (x === "*") return;
  const both = (x as Array<number | string>).filter((v) => (y as Array<number | string>).includes(v));
  if (both.length) throw new InjectRefusal(`annotations ${a} and ${b} both name ${both.join(", ")}: say which one you mean`);
}

/** Parses the pod's annotations over the settings; throws InjectRefusal naming the annotation. */
export function podInjectOptions(annotations: Record<string, string>, settings: InjectSettings): PodInjectOptions {
  for (const key of Object.keys(annotations)) {
    if ((key.startsWith("sidecar.istio.io/") || key.startsWith("traffic.sidecar.istio.io/")) && !HONOURED.has(key)) {
      throw new InjectRefusal(`annotation ${key} is not one Trellis' injector acts on; remove it (honoured: ${[...HONOURED].filter((k) => k !== A.status).join(", ")})`);
    }
  }
  const get = (k: string) => annotations[k];
  const mode = get(A.interceptionMode);
  if (mode !== undefined && mode !== "REDIRECT") throw new InjectRefusal(`annotation ${A.interceptionMode}: "${mode}" is not supported; Trellis intercepts with REDIRECT (remove the annotation or set REDIRECT)`);
  let proxy = settings.proxy;
  const config = get(A.proxyConfig);
  if (config !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(config);
    } catch (err) {
      throw new InjectRefusal(`annotation ${A.proxyConfig}: not YAML or JSON: ${(err as Error).message}`);
    }
    try {
      proxy = applyProxyConfig(proxy, doc, `annotation ${A.proxyConfig}`);
    } catch (err) {
      if (err instanceof InjectConfigError) throw new InjectRefusal(err.message);
      throw err;
    }
  }
  const resources = { requests: { ...settings.resources.requests }, limits: { ...settings.resources.limits } };
  if (get(A.proxyCPU) !== undefined) resources.requests.cpu = quantity(A.proxyCPU, get(A.proxyCPU));
  if (get(A.proxyMemory) !== undefined) resources.requests.memory = quantity(A.proxyMemory, get(A.proxyMemory));
  if (get(A.proxyCPULimit) !== undefined) resources.limits.cpu = quantity(A.proxyCPULimit, get(A.proxyCPULimit));
  if (get(A.proxyMemoryLimit) !== undefined) resources.limits.memory = quantity(A.proxyMemoryLimit, get(A.proxyMemoryLimit));
  const out: PodInjectOptions = {
    proxy,
    nativeSidecar: get(A.nativeSidecar) !== undefined ? bool(A.nativeSidecar, get(A.nativeSidecar)) : settings.nativeSidecar,
    resources,
    includeOutboundCidrs: get(A.includeOutboundIPRanges) !== undefined ? cidrs(A.includeOutboundIPRanges, get(A.includeOutboundIPRanges), true) : "*",
    excludeOutboundCidrs: get(A.excludeOutboundIPRanges) !== undefined ? (cidrs(A.excludeOutboundIPRanges, get(A.excludeOutboundIPRanges), false) as string[]) : [],
    includeOutboundPorts: get(A.includeOutboundPorts) !== undefined ? (ports(A.includeOutboundPorts, get(A.includeOutboundPorts), false) as number[]) : [],
    excludeOutboundPorts: get(A.excludeOutboundPorts) !== undefined ? (ports(A.excludeOutboundPorts, get(A.excludeOutboundPorts), false) as number[]) : [],
    includeInboundPorts: get(A.includeInboundPorts) !== undefined ? ports(A.includeInboundPorts, get(A.includeInboundPorts), true) : "*",
    excludeInboundPorts: get(A.excludeInboundPorts) !== undefined ? (ports(A.excludeInboundPorts, get(A.excludeInboundPorts), false) as number[]) : [],
  };
  clash(A.includeOutboundIPRanges, A.excludeOutboundIPRanges, out.includeOutboundCidrs, out.excludeOutboundCidrs);
  clash(A.includeOutboundPorts, A.excludeOutboundPorts, out.includeOutboundPorts, out.excludeOutboundPorts);
  clash(A.includeInboundPorts, A.excludeInboundPorts, out.includeInboundPorts, out.excludeInboundPorts);
  return out;
}
