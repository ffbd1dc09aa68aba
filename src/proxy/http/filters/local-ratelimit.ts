// envoy.filters.http.local_ratelimit: a token bucket per filter or per route; over the limit answers 429 (RL).
import type { LocalRateLimit__Output } from "../../../xds/generated/envoy/extensions/filters/http/local_ratelimit/v3/LocalRateLimit.js";
import type { AnyValue } from "../../../xds/resource.js";
import { typedConfig } from "../../config/typed-config.js";
import { perRouteConfig, registerPerRouteConfig } from "../per-route-config.js";
import { durationMs } from "../../util/duration.js";
import { chance, runtimeFraction } from "../route-table.js";
import { Runtime } from "../../runtime/runtime.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import type { StreamContext } from "../stream-context.js";
import type { Stats } from "../../stats/stats.js";
import { compileHeaderMutation, type HeaderMutation } from "../header-mutation.js";

const NAME = "envoy.filters.http.local_ratelimit";
const TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

class Bucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly max: number, private readonly perFill: number, private readonly intervalMs: number) {
    this.tokens = max;
  }

  take(now = Date.now()): boolean {
    const fills = Math.floor((now - this.last) / this.intervalMs);
    if (fills > 0) {
      this.tokens = Math.min(this.max, this.tokens + fills * this.perFill);
      this.last += fills * this.intervalMs;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

interface Limit {
  bucket?: Bucket;
  /** Read per request: the runtime's value for the key, else the default. */
  enabled: () => number;
  enforced: () => number;
  status: number;
  prefix: string;
  /** response_headers_to_add: on the replies to requests this limit rejected. */
  headers: HeaderMutation;
}

function compile(any: AnyValue, where: string, rt: Runtime): Limit {
  const c = typedConfig<LocalRateLimit__Output>(any, where);
  const tb = c.token_bucket;
  return {
    bucket: tb ? new Bucket(tb.max_tokens, tb.tokens_per_fill?.value ?? 1, durationMs(tb.fill_interval, 1000)) : undefined,
    // As in Envoy, an unset filter_enabled / filter_enforced means 0%: the bucket is only observed.
    enabled: runtimeFraction(c.filter_enabled, rt, 0),
    enforced: runtimeFraction(c.filter_enforced, rt, 0),
    status: c.status?.code ? Number(c.status.code) || 429 : 429,
    prefix: c.stat_prefix,
    headers: headerMutation(c, where),
  };
}

function headerMutation(c: LocalRateLimit__Output, where: string): HeaderMutation {
  try {
    return compileHeaderMutation([{ add: c.response_headers_to_add, remove: [] }]);
  } catch (err) {
    throw new Error(`${where}.response_headers_to_add: ${(err as Error).message}`, { cause: err });
  }
}

/** The mutation applied to an empty header map, as the extra headers of a local reply. */
function replyHeaders(m: HeaderMutation): Record<string, string> {
  if (m.empty) return {};
  const h: Record<string, string | string[] | undefined> = {};
  m.apply(h);
  return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v!]));
}

class LocalRateLimitFilter implements HttpFilter {
  readonly name = NAME;
  constructor(private readonly base: Limit | undefined, private readonly stats: Stats) {}

  onRequest(ctx: StreamContext): FilterStatus {
    const l = perRouteConfig<Limit>(ctx.route, NAME, TYPE) ?? this.base;
    if (!l?.bucket || !chance(l.enabled())) return "continue";
    if (l.bucket.take()) {
      this.stats.inc(`${l.prefix}.http_local_rate_limit.ok`);
      return "continue";
    }
    this.stats.inc(`${l.prefix}.http_local_rate_limit.rate_limited`);
    if (!chance(l.enforced())) return "continue";
    this.stats.inc(`${l.prefix}.http_local_rate_limit.enforced`);
    localReply(ctx, l.status, "local_rate_limited", "RL", replyHeaders(l.headers));
    return "stop";
  }
}

registerPerRouteConfig(TYPE, compile);
registerFilter(NAME, TYPE, (any, ctx) => {
  const rt = ctx.runtime ?? Runtime.fromBootstrap(null, "", "");
  return new LocalRateLimitFilter(any ? compile(any, NAME, rt) : undefined, ctx.stats);
});
