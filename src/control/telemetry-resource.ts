// Istio's Telemetry resource, resolved for one proxy as istiod resolves it: the root namespace's selector-less
// Telemetry, then the proxy's namespace's, then the first (oldest) whose selector matches the proxy; later levels
// override earlier ones. Tracing and access logging are computed per mode (CLIENT: outbound and gateways, SERVER:
// inbound), falling back to MeshConfig defaultProviders. Pure: resources and mesh config in, providers out.
import type { IstioResource } from "../api/resource.js";
import type { Workload } from "./registry/registry.js";
import { type DefaultProviders, providerNamed, type TelemetryProvider } from "./telemetry-providers.js";

type Mode = "CLIENT" | "SERVER";

export interface CustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
}

interface TracingRule {
  match?: { mode?: "CLIENT" | "SERVER" | "CLIENT_AND_SERVER" };
  providers?: Array<{ name: string }>;
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, CustomTag>;
}

interface AccessLoggingRule {
  match?: { mode?: "CLIENT" | "SERVER" | "CLIENT_AND_SERVER" };
  providers?: Array<{ name: string }>;
  disabled?: boolean;
}

export interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  tracing?: TracingRule[];
  accessLogging?: AccessLoggingRule[];
  metrics?: unknown[];
}

/** Tracing for one mode: a provider and its settings, or off (no provider resolved, or span reporting disabled). */
export type ModeTracing =
  | { off: false; provider: Extract<TelemetryProvider, { kind: "zipkin" | "opentelemetry" }>; samplingPercent?: number; customTags: Record<string, CustomTag> }
  | { off: true; reason: string };

export interface ResolvedTelemetry {
  /** undefined: no Telemetry and no default provider applies, so MeshConfig's legacy settings do. */
  tracing?: Record<Mode, ModeTracing>;
  /** undefined: as for tracing; an empty list turns access logging off for that mode. */
  accessLogs?: Record<Mode, TelemetryProvider[]>;
  /** Telemetry resources that applied, root first (for debugging and tests). */
  applied: string[];
}

export interface MeshTelemetry {
  providers: TelemetryProvider[];
  defaults?: DefaultProviders;
}

function created(r: IstioResource<TelemetrySpec>): string {
  return (r.metadata as { creationTimestamp?: string }).creationTimestamp ?? "";
}

function selectorOf(r: IstioResource<TelemetrySpec>): Record<string, string> {
  return r.spec.selector?.matchLabels ?? {};
}

/** The Telemetry resources that apply to `proxy`, least specific first (Istio's applicableTelemetries). */
export function applicableTelemetries(resources: IstioResource[], proxy: Pick<Workload, "namespace" | "labels">, root: string): Array<IstioResource<TelemetrySpec>> {
  const all = (resources.filter((r) => r.kind === "Telemetry") as Array<IstioResource<TelemetrySpec>>)
    .sort((a, b) => created(a).localeCompare(created(b)) || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
  const inNs = (ns: string) => all.filter((r) => (r.metadata.namespace ?? "default") === ns);
  const wide = (ns: string) => inNs(ns).find((r) => Object.keys(selectorOf(r)).length === 0);
  const out: Array<IstioResource<TelemetrySpec>> = [];
  const rootWide = wide(root);
  if (rootWide) out.push(rootWide);
  if (proxy.namespace !== root) {
    const nsWide = wide(proxy.namespace);
    if (nsWide) out.push(nsWide);
  }
  const workload = inNs(proxy.namespace).find((r) => {
    const sel = selectorOf(r);
    return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => proxy.labels[k] === v);
  });
  if (workload) out.push(workload);
  return out;
}

function modes(match: { mode?: string } | undefined): Mode[] {
  return match?.mode === "CLIENT" ? ["CLIENT"] : match?.mode === "SERVER" ? ["SERVER"] : ["CLIENT", "SERVER"];
}

interface TracingState { provider?: TelemetryProvider; missing?: string; disabled: boolean; sampling?: number; customTags: Record<string, CustomTag> }

function tracingFor(rules: TracingRule[], mesh: MeshTelemetry): Record<Mode, ModeTracing> {
  const state: Record<Mode, TracingState> = { CLIENT: { disabled: false, customTags: {} }, SERVER: { disabled: false, customTags: {} } };
  const pick = (name: string, s: TracingState) => {
    s.provider = providerNamed(mesh.providers, name);
    s.missing = s.provider ? undefined : name;
  };
  const first = mesh.defaults?.tracing[0];
  if (first) for (const s of Object.values(state)) pick(first, s);
  for (const rule of rules) {
    for (const mode of modes(rule.match)) {
      const s = state[mode];
      // Istio takes one provider a mode: the first named.
      if (rule.providers?.length) pick(rule.providers[0].name, s);
      if (rule.disableSpanReporting !== undefined) s.disabled = rule.disableSpanReporting;
      if (rule.customTags !== undefined) s.customTags = rule.customTags;
      if (rule.randomSamplingPercentage !== undefined) s.sampling = rule.randomSamplingPercentage;
    }
  }
  const resolve = (s: TracingState): ModeTracing => {
    if (s.disabled) return { off: true, reason: "disableSpanReporting" };
    if (!s.provider) return { off: true, reason: s.missing ? `provider "${s.missing}" is not in extensionProviders` : "no tracing provider is named" };
    if (s.provider.kind !== "zipkin" && s.provider.kind !== "opentelemetry") return { off: true, reason: `provider "${s.provider.name}" is ${s.provider.kind}, not a tracer (zipkin or opentelemetry)` };
    return { off: false, provider: s.provider, samplingPercent: s.sampling, customTags: s.customTags };
  };
  return { CLIENT: resolve(state.CLIENT), SERVER: resolve(state.SERVER) };
}

/** Istio's mergeLogs: the most specific level naming providers sets which are in scope; rules then add or disable. */
function accessLogsFor(levels: AccessLoggingRule[][], mesh: MeshTelemetry, mode: Mode): TelemetryProvider[] {
  const defaults = mesh.defaults?.accessLogging ?? [];
  const chosen = new Set<string>();
  if (levels.length === 0) defaults.forEach((d) => chosen.add(d));
  let inScope = defaults;
  for (const level of levels) {
    const names = level.flatMap((r) => (r.providers ?? []).map((p) => p.name));
    if (names.length) inScope = [...new Set(names)];
  }
  let parent = defaults;
  for (const level of levels) for (const rule of level) {
    const names = rule.providers?.length ? rule.providers.map((p) => p.name) : parent;
    parent = names;
    for (const name of names) {
      if (!inScope.includes(name) || !modes(rule.match).includes(mode)) continue;
      if (rule.disabled) chosen.delete(name);
      else chosen.add(name);
    }
  }
  return [...chosen].sort().flatMap((n) => providerNamed(mesh.providers, n) ?? []);
}

export function resolveTelemetry(resources: IstioResource[], proxy: Pick<Workload, "namespace" | "labels">, root: string, mesh: MeshTelemetry): ResolvedTelemetry {
  const applied = applicableTelemetries(resources, proxy, root);
  const tracingRules = applied.flatMap((t) => t.spec.tracing ?? []);
  const logLevels = applied.map((t) => t.spec.accessLogging ?? []).filter((l) => l.length > 0);
  const out: ResolvedTelemetry = { applied: applied.map((t) => `${t.metadata.namespace ?? "default"}/${t.metadata.name}`) };
  if (tracingRules.length > 0 || (mesh.defaults?.tracing.length ?? 0) > 0) out.tracing = tracingFor(tracingRules, mesh);
  if (logLevels.length > 0 || (mesh.defaults?.accessLogging.length ?? 0) > 0) out.accessLogs = { CLIENT: accessLogsFor(logLevels, mesh, "CLIENT"), SERVER: accessLogsFor(logLevels, mesh, "SERVER") };
  return out;
}
