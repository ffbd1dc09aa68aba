// envoy.filters.network.rbac: allows or closes each connection with the compiled RBAC engine, once, when the
// connection is accepted (after the TLS handshake, so the peer's identity is known). Rules on HTTP attributes
// (headers, paths) never match a connection, as in Envoy.
import type { RBAC__Output } from "../../xds/generated/envoy/extensions/filters/network/rbac/v3/RBAC.js";
import type { ConnectionInfo } from "../http/stream-context.js";
import type { Stats } from "../stats/stats.js";
import { compileRbac, type CompiledRbac, type RbacRequest, unsupportedRule } from "./rbac-engine.js";

const NO_METADATA = () => undefined;

export class NetworkRbac {
  private readonly rules?: CompiledRbac;
  private readonly shadow?: CompiledRbac;
  private readonly prefix: string;

  constructor(config: RBAC__Output, private readonly stats: Stats, where: string) {
    if (config.matcher || config.shadow_matcher) throw new Error(`${where}: matcher and shadow_matcher are not supported; use rules`);
    for (const [field, rules] of [["rules", config.rules], ["shadow_rules", config.shadow_rules]] as const) {
      const bad = rules ? unsupportedRule(rules, `${where}.${field}`) : undefined;
      if (bad) throw new Error(bad);
    }
    this.rules = config.rules ? compileRbac(config.rules) : undefined;
    this.shadow = config.shadow_rules ? compileRbac(config.shadow_rules) : undefined;
    this.prefix = config.stat_prefix;
  }

  /** Decides once per connection; a denied one is counted and must be closed by the caller. */
  allows(conn: ConnectionInfo): boolean {
    const req: RbacRequest = {
      header: () => undefined, path: "",
      destinationIp: conn.originalDst?.address ?? conn.localAddress, destinationPort: conn.originalDst?.port ?? conn.localPort,
      directRemoteIp: conn.remoteAddress, remoteIp: conn.remoteAddress,
      principal: conn.peerPrincipal, requestedServerName: conn.requestedServerName, metadata: NO_METADATA,
    };
    if (this.shadow) this.stats.inc(`${this.prefix}rbac.shadow_${this.shadow.evaluate(req).allowed ? "allowed" : "denied"}`);
    if (!this.rules) return true;
    const allowed = this.rules.evaluate(req).allowed;
    this.stats.inc(`${this.prefix}rbac.${allowed ? "allowed" : "denied"}`);
    return allowed;
  }
}
