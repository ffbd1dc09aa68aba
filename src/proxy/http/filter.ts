// The HTTP filter contract and registry: each filter is one file registered under its Envoy name; a filter answers
// "continue" or "stop" (it has replied), never throws on a request.
import type { AnyValue } from "../../xds/resource.js";
import type { StreamContext } from "./stream-context.js";

export type FilterStatus = "continue" | "stop";

export interface HttpFilter {
  readonly name: string;
  /** Runs on request headers. May return a promise only when it must wait (a fault delay). */
  onRequest(ctx: StreamContext): FilterStatus | Promise<FilterStatus>;
  /** Adds or changes response headers on the way back (CORS). */
  onResponseHeaders?(ctx: StreamContext, headers: Record<string, string | string[] | undefined>): void;
}

export interface FilterFactoryContext {
  statPrefix: string;
  stats: import("../stats/stats.js").Stats;
  /** The proxy's clusters, for filters that call a service themselves (ext_authz). */
  cluster?(name: string): import("../upstream/cluster.js").UpstreamCluster | undefined;
  /** The proxy's runtime (layered_runtime), for the keys filters read per request. */
  runtime?: import("../runtime/runtime.js").Runtime;
}

/** Builds a filter from its decoded typed_config; throws with the field at fault. */
export type FilterFactory = (config: AnyValue | null, ctx: FilterFactoryContext) => HttpFilter;

const registry = new Map<string, { typeUrl: string; factory: FilterFactory }>();

export function registerFilter(name: string, typeUrl: string, factory: FilterFactory): void {
  registry.set(name, { typeUrl, factory });
}

/** The factory for a filter, looked up by its typed_config type (preferred) or its Envoy name. */
export function filterFactory(name: string, typeUrl: string | undefined): FilterFactory | undefined {
  if (typeUrl) for (const f of registry.values()) if (f.typeUrl === typeUrl) return f.factory;
  return registry.get(name)?.factory;
}

export function registeredFilters(): string[] {
  return [...registry.keys()];
}

/** The typed_config type URL of every registered filter (the field walker test checks each is classified). */
export function registeredFilterTypes(): string[] {
  return [...registry.values()].map((f) => f.typeUrl);
}
