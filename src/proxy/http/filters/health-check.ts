// envoy.filters.http.health_check: requests matching `headers` (e.g. :path /healthz) are health checks. Not in
// pass-through mode the proxy answers them itself: 200, or 503 when a cluster named in cluster_min_healthy_percentages
// has too few healthy hosts. In pass-through mode they go upstream as usual.
import type { HealthCheck__Output } from "../../../xds/generated/envoy/extensions/filters/http/health_check/v3/HealthCheck.js";
import { compileHeaderMatcher, type HeaderGetter, type Predicate } from "../../matchers/string-matcher.js";
import { registerFilter, type FilterFactoryContext, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import type { StreamContext } from "../stream-context.js";
import { usable } from "../../upstream/endpoint.js";
import { typedConfig } from "../../config/typed-config.js";

const NAME = "envoy.filters.http.health_check";
const TYPE = "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck";

class HealthCheckFilter implements HttpFilter {
  readonly name = NAME;

  constructor(
    private readonly matchers: Array<Predicate<HeaderGetter>>,
    private readonly passThrough: boolean,
    private readonly minHealthy: Array<[string, number]>,
    private readonly deps: FilterFactoryContext,
  ) {}

  onRequest(ctx: StreamContext): FilterStatus {
    const get: HeaderGetter = (n) => ctx.view.header(n);
    if (this.matchers.length === 0 || !this.matchers.every((m) => m(get))) return "continue";
    this.deps.stats.inc(`http.${this.deps.statPrefix}.health_check.request`);
    if (this.passThrough) return "continue";
    const unhealthy = this.minHealthy.find(([name, percent]) => {
      const c = this.deps.cluster?.(name);
      if (!c) return true;
      const hosts = c.hosts();
      const now = Date.now();
      const healthy = hosts.filter((h) => usable(h, now)).length;
      return hosts.length === 0 ? percent > 0 : (healthy * 100) / hosts.length < percent;
    });
    // The health check answer is the proxy's own, without a body, like Envoy's.
    if (unhealthy) {
      this.deps.stats.inc(`http.${this.deps.statPrefix}.health_check.failed`);
      localReply(ctx, 503, "", undefined, { "x-envoy-upstream-healthchecked-cluster": unhealthy[0] });
    } else {
      this.deps.stats.inc(`http.${this.deps.statPrefix}.health_check.ok`);
      localReply(ctx, 200, "");
    }
    return "stop";
  }
}

registerFilter(NAME, TYPE, (any, ctx) => {
  if (!any) throw new Error(`${NAME}: typed_config is required (pass_through_mode, headers)`);
  const r = typedConfig<HealthCheck__Output>(any, NAME);
  const c = r;
  if (c.cache_time) throw new Error(`${NAME}.cache_time: caching pass-through health check answers is not supported; remove it`);
  if (c.headers.length === 0) throw new Error(`${NAME}.headers: name what a health check request looks like, e.g. {name: ":path", string_match: {exact: "/healthz"}}`);
  return new HealthCheckFilter(c.headers.map(compileHeaderMatcher), c.pass_through_mode?.value ?? false, Object.entries(c.cluster_min_healthy_percentages).map(([k, v]) => [k, v.value]), ctx);
});
