// envoy.filters.http.csrf: a request that changes state (POST, PUT, DELETE, PATCH) must come from the same origin as
// its target (Origin, else Referer, against the Host) or from one of additional_origins; otherwise 403 when the
// policy is enforced (filter_enabled), and only counted when it is in shadow (shadow_enabled). Per route too.
import type { CsrfPolicy__Output } from "../../../xds/generated/envoy/extensions/filters/http/csrf/v3/CsrfPolicy.js";
import type { AnyValue } from "../../../xds/resource.js";
import { typedConfig } from "../../config/typed-config.js";
import { perRouteConfig, registerPerRouteConfig } from "../per-route-config.js";
import { compileStringMatcher, type Predicate } from "../../matchers/string-matcher.js";
import { Runtime } from "../../runtime/runtime.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import { chance, runtimeFraction } from "../route-table.js";
import type { StreamContext } from "../stream-context.js";

const NAME = "envoy.filters.http.csrf";
const TYPE = "type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy";
const MODIFYING = new Set(["POST", "PUT", "DELETE", "PATCH"]);

interface Policy {
  enabled: () => number;
  shadow: () => number;
  origins: Array<Predicate<string>>;
}

function compile(any: AnyValue, where: string, rt: Runtime): Policy {
  const c = typedConfig<CsrfPolicy__Output>(any, where);
  return { enabled: runtimeFraction(c.filter_enabled, rt, 0), shadow: runtimeFraction(c.shadow_enabled, rt, 0), origins: c.additional_origins.map(compileStringMatcher) };
}

/** "https://a.example:8443/path" -> "a.example:8443": the host (and port) an Origin or Referer names. */
function hostOf(url: string | undefined): string | undefined {
  if (!url || url === "null") return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

class CsrfFilter implements HttpFilter {
  readonly name = NAME;
  constructor(private readonly base: Policy, private readonly stat: (name: string) => void) {}

  private policy(ctx: StreamContext): Policy {
    return perRouteConfig<Policy>(ctx.route, NAME, TYPE) ?? this.base;
  }

  onRequest(ctx: StreamContext): FilterStatus {
    if (!MODIFYING.has(ctx.view.method)) return "continue";
    const p = this.policy(ctx);
    const enforced = chance(p.enabled());
    if (!enforced && !chance(p.shadow())) return "continue";
    const source = hostOf(ctx.view.header("origin")) ?? hostOf(ctx.view.header("referer"));
    let valid = false;
    if (source === undefined) this.stat("missing_source_origin");
    else {
      const target = ctx.view.authority;
      const origin = ctx.view.header("origin") ?? ctx.view.header("referer") ?? "";
      valid = source === target || p.origins.some((m) => m(source) || m(origin));
      this.stat(valid ? "request_valid" : "request_invalid");
    }
    if (valid || !enforced) return "continue";
    localReply(ctx, 403, "Invalid origin", "UAEX");
    return "stop";
  }
}

registerPerRouteConfig(TYPE, compile);
registerFilter(NAME, TYPE, (any, ctx) => {
  if (!any) throw new Error(`${NAME}: typed_config is required (filter_enabled)`);
  const rt = ctx.runtime ?? Runtime.fromBootstrap(null, "", "");
  return new CsrfFilter(compile(any, NAME, rt), (n) => ctx.stats.inc(`http.${ctx.statPrefix}.csrf.${n}`));
});
