// The network filter registry, as the HTTP filters have one: each filter registers under its Envoy name and config
// type. A "check" filter (network RBAC) may stand ahead of a chain's terminal filter and vets each connection; the
// terminal one (http_connection_manager, tcp_proxy) takes the connection.
import type { AnyValue } from "../../xds/resource.js";
import type { ConnectionInfo } from "../http/stream-context.js";
import type { HttpConnectionManager } from "../http/connection-manager.js";
import type { TcpProxyFilter } from "../tcp/tcp-proxy.js";
import type { ListenerDeps } from "./listener.js";

export type TerminalFilter = HttpConnectionManager | TcpProxyFilter;

export interface ConnectionCheck {
  allows(conn: ConnectionInfo): boolean;
}

export interface NetworkFilterContext {
  deps: ListenerDeps;
  /** The typed_config's field path, for errors. */
  where: string;
  direction: "INBOUND" | "OUTBOUND" | "UNSPECIFIED";
}

export type NetworkFilterFactory =
  | { kind: "check"; build(config: AnyValue, ctx: NetworkFilterContext): ConnectionCheck }
  | { kind: "terminal"; build(config: AnyValue, ctx: NetworkFilterContext): TerminalFilter };

const registry = new Map<string, { typeUrl: string; factory: NetworkFilterFactory }>();

export function registerNetworkFilter(name: string, typeUrl: string, factory: NetworkFilterFactory): void {
  registry.set(name, { typeUrl, factory });
}

/** The factory for a filter's typed_config type, or undefined (the caller refuses it by name). */
export function networkFilterFactory(typeUrl: string): NetworkFilterFactory | undefined {
  for (const f of registry.values()) if (f.typeUrl === typeUrl) return f.factory;
  return undefined;
}

/** Registered filters of one kind by Envoy name, for refusals that list what is supported. */
export function registeredNetworkFilters(kind: NetworkFilterFactory["kind"]): string[] {
  return [...registry].filter(([, f]) => f.factory.kind === kind).map(([name]) => name);
}
