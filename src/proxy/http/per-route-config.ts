// typed_per_filter_config compiled when the route table arrives: a filter that takes per-route overrides registers
// a compiler for its config type, so a bad override refuses the whole RouteConfiguration (NACKed with RDS) and a
// request only looks the compiled policy up.
import type { AnyValue } from "../../xds/resource.js";
import type { Runtime } from "../runtime/runtime.js";

/** Compiles one override; throws naming the field at fault. */
export type PerRouteCompiler = (config: AnyValue, where: string, runtime: Runtime) => unknown;

/** One compiled override: its config type, and the filter's compiled policy (the raw Any for types without a compiler). */
export interface PerFilterEntry {
  typeUrl: string;
  value: unknown;
}

const compilers = new Map<string, PerRouteCompiler>();

/** Registers the compiler for a per-route config type (by type URL, as the Any carries it). */
export function registerPerRouteConfig(typeUrl: string, compile: PerRouteCompiler): void {
  compilers.set(typeUrl, compile);
}

/** Compiles a typed_per_filter_config map found at `where` (a virtual host, a route). */
export function compilePerFilterConfig(config: Record<string, AnyValue>, where: string, runtime: Runtime): Map<string, PerFilterEntry> {
  const out = new Map<string, PerFilterEntry>();
  for (const name in config) {
    const any = config[name];
    const compile = compilers.get(any.type_url);
    out.set(name, { typeUrl: any.type_url, value: compile ? compile(any, `${where}.typed_per_filter_config["${name}"]`, runtime) : any });
  }
  return out;
}

/** The compiled override a route carries for filter `name`, when it has one of the filter's type. */
export function perRouteConfig<T>(route: { perFilterConfig: Map<string, PerFilterEntry> } | undefined, name: string, typeUrl: string): T | undefined {
  const e = route?.perFilterConfig.get(name);
  return e && e.typeUrl === typeUrl ? (e.value as T) : undefined;
}
