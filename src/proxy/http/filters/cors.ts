// envoy.filters.http.cors: answers preflights for allowed origins and adds CORS headers to their responses; the
// policy comes from the route or virtual host (typed_per_filter_config, as Istio's corsPolicy is sent).
import type { CorsPolicy__Output } from "../../../xds/generated/envoy/extensions/filters/http/cors/v3/CorsPolicy.js";
import { typedConfig } from "../../config/typed-config.js";
import { perRouteConfig, registerPerRouteConfig } from "../per-route-config.js";
import { compileStringMatcher, type Predicate } from "../../matchers/string-matcher.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import type { StreamContext } from "../stream-context.js";

const NAME = "envoy.filters.http.cors";
/** The per-route type: Istio sends its corsPolicy as typed_per_filter_config of this type. */
const POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

interface Policy {
  origins: Array<Predicate<string>>;
  methods: string;
  headers: string;
  expose: string;
  maxAge: string;
  credentials: boolean;
  forwardNotMatching: boolean;
}

function compile(p: CorsPolicy__Output): Policy {
  return {
    origins: p.allow_origin_string_match.map(compileStringMatcher),
    methods: p.allow_methods, headers: p.allow_headers, expose: p.expose_headers, maxAge: p.max_age,
    credentials: p.allow_credentials?.value ?? false,
    forwardNotMatching: p.forward_not_matching_preflights?.value ?? true,
  };
}

class CorsFilter implements HttpFilter {
  readonly name = NAME;

  private policy(ctx: StreamContext): Policy | undefined {
    return perRouteConfig<Policy>(ctx.route, NAME, POLICY_TYPE);
  }

  onRequest(ctx: StreamContext): FilterStatus {
    const origin = ctx.view.header("origin");
    const p = origin ? this.policy(ctx) : undefined;
    if (!p || !origin) return "continue";
    const allowed = p.origins.some((m) => m(origin));
    const preflight = ctx.view.method === "OPTIONS" && ctx.view.header("access-control-request-method") !== undefined;
    if (!preflight) {
      if (allowed) (ctx.metadata[NAME] ??= {}).origin = origin;
      return "continue";
    }
    if (!allowed) return p.forwardNotMatching ? "continue" : reply(ctx, 403, {});
    const headers: Record<string, string> = { "access-control-allow-origin": origin };
    if (p.methods) headers["access-control-allow-methods"] = p.methods;
    if (p.headers) headers["access-control-allow-headers"] = p.headers;
    if (p.maxAge) headers["access-control-max-age"] = p.maxAge;
    if (p.credentials) headers["access-control-allow-credentials"] = "true";
    return reply(ctx, 200, headers);
  }

  onResponseHeaders(ctx: StreamContext, headers: Record<string, string | string[] | undefined>): void {
    const origin = ctx.metadata[NAME]?.origin as string | undefined;
    const p = origin ? this.policy(ctx) : undefined;
    if (!p || !origin) return;
    headers["access-control-allow-origin"] = origin;
    if (p.credentials) headers["access-control-allow-credentials"] = "true";
    if (p.expose) headers["access-control-expose-headers"] = p.expose;
  }
}

function reply(ctx: StreamContext, status: number, headers: Record<string, string>): FilterStatus {
  ctx.responded = true;
  ctx.responseCode = status;
  ctx.res.writeHead(status, { ...headers, "content-length": 0 });
  ctx.res.end();
  return "stop";
}

// A bad policy refuses the route table; it used to be skipped on the first request, leaving the route without CORS.
registerPerRouteConfig(POLICY_TYPE, (any, where) => compile(typedConfig<CorsPolicy__Output>(any, where)));
registerFilter(NAME, "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors", () => new CorsFilter());
