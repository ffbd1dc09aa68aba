// envoy.filters.http.jwt_authn: verifies JWTs with the compiled engine; a bad token gets 401, a good one metadata.
import type { JwtAuthentication__Output } from "../../../xds/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.js";
import { compileJwtAuthn, type CompiledJwtAuthn } from "../../jwt/jwt-authn.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import { cookieValue } from "../cookies.js";
import type { StreamContext } from "../stream-context.js";
import { typedConfig } from "../../config/typed-config.js";

const NAME = "envoy.filters.http.jwt_authn";

class JwtFilter implements HttpFilter {
  readonly name = NAME;

  constructor(private readonly engine: CompiledJwtAuthn, private readonly stats: import("../../stats/stats.js").Stats, private readonly prefix: string) {}

  onRequest(ctx: StreamContext): FilterStatus | Promise<FilterStatus> {
    // A remote key set that is missing or expired is fetched first (once, however many requests wait for it).
    const wait = this.engine.pending();
    return wait ? wait.then(() => this.run(ctx)) : this.run(ctx);
  }

  private run(ctx: StreamContext): FilterStatus {
    const v = ctx.view;
    const outcome = this.engine.authenticate({ method: v.method, path: v.pathOnly, query: v.path.includes("?") ? v.query() : undefined, header: (n) => v.header(n), cookie: (n) => cookieValue(v.header("cookie"), n) });
    if (!outcome.ok) {
      this.stats.inc(`http.${this.prefix}.jwt_authn.denied`);
      localReply(ctx, outcome.status, outcome.body, "UAEX", { "www-authenticate": outcome.wwwAuthenticate });
      return "stop";
    }
    this.stats.inc(`http.${this.prefix}.jwt_authn.allowed`);
    Object.assign(ctx.metadata, outcome.metadata);
    for (const h of outcome.removeHeaders) delete ctx.upstreamHeaders[h];
    for (const [k, val] of outcome.setHeaders) ctx.upstreamHeaders[k.toLowerCase()] = val;
    return "continue";
  }
}

registerFilter(NAME, "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication", (any, ctx) => {
  if (!any) throw new Error(`${NAME}: typed_config is required`);
  const r = typedConfig<JwtAuthentication__Output>(any, NAME);
  return new JwtFilter(compileJwtAuthn(r, ctx.cluster ? (n) => ctx.cluster!(n) : undefined), ctx.stats, ctx.statPrefix);
});
