// envoy.filters.http.rbac: allows or denies each request with the compiled RBAC engine (403, "RBAC: access denied").
import type { RBAC__Output } from "../../../xds/generated/envoy/extensions/filters/http/rbac/v3/RBAC.js";
import { compileRbac, type CompiledRbac, type RbacRequest, unsupportedRule } from "../../rbac/rbac-engine.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import type { StreamContext } from "../stream-context.js";
import { typedConfig } from "../../config/typed-config.js";

const NAME = "envoy.filters.http.rbac";

function rbacRequest(ctx: StreamContext): RbacRequest {
  return {
    header: (n) => ctx.view.header(n),
    path: ctx.view.pathOnly,
    destinationIp: ctx.conn.originalDst?.address ?? ctx.conn.localAddress,
    destinationPort: ctx.conn.originalDst?.port ?? ctx.conn.localPort,
    directRemoteIp: ctx.conn.remoteAddress,
    remoteIp: ctx.view.header("x-forwarded-for")?.split(",")[0].trim() || ctx.conn.remoteAddress,
    principal: ctx.conn.peerPrincipal,
    requestedServerName: ctx.conn.requestedServerName,
    metadata: (f) => ctx.metadata[f],
  };
}

class RbacFilter implements HttpFilter {
  readonly name = NAME;

  constructor(private readonly rules: CompiledRbac | undefined, private readonly shadow: CompiledRbac | undefined, private readonly stats: import("../../stats/stats.js").Stats, private readonly prefix: string, private readonly shadowPrefix = "") {}

  onRequest(ctx: StreamContext): FilterStatus {
    const req = rbacRequest(ctx);
    if (this.shadow) {
      const d = this.shadow.evaluate(req);
      this.stats.inc(`http.${this.prefix}.rbac.shadow_${d.allowed ? "allowed" : "denied"}`);
      // Envoy's keys: SHADOW_PREFIX + shadow_effective_policy_id / shadow_engine_result (ext_authz reads the first).
      const md = (ctx.metadata[NAME] ??= {});
      md[`${this.shadowPrefix}shadow_effective_policy_id`] = d.policy ?? "";
      md[`${this.shadowPrefix}shadow_engine_result`] = d.allowed ? "allowed" : "denied";
    }
    if (!this.rules) return "continue";
    const d = this.rules.evaluate(req);
    if (d.allowed) {
      this.stats.inc(`http.${this.prefix}.rbac.allowed`);
      return "continue";
    }
    this.stats.inc(`http.${this.prefix}.rbac.denied`);
    localReply(ctx, 403, "RBAC: access denied", "RBAC_ACCESS_DENIED");
    return "stop";
  }
}

registerFilter(NAME, "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC", (any, ctx) => {
  if (!any) return new RbacFilter(undefined, undefined, ctx.stats, ctx.statPrefix);
  const r = typedConfig<RBAC__Output>(any, NAME);
  for (const [field, rules] of [["rules", r.rules], ["shadow_rules", r.shadow_rules]] as const) {
    const bad = rules ? unsupportedRule(rules, `${NAME}.${field}`) : undefined;
    if (bad) throw new Error(bad);
  }
  return new RbacFilter(r.rules ? compileRbac(r.rules) : undefined, r.shadow_rules ? compileRbac(r.shadow_rules) : undefined, ctx.stats, ctx.statPrefix, r.shadow_rules_stat_prefix);
});
