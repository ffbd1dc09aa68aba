// envoy.filters.http.fault: delays and aborts by percentage (optionally driven by request headers), per route too.
import type { HTTPFault__Output } from "../../../xds/generated/envoy/extensions/filters/http/fault/v3/HTTPFault.js";
import { decodeAny, type AnyValue } from "../../../xds/resource.js";
import { durationMs } from "../../util/duration.js";
import { fractionOf } from "../route-table.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import type { StreamContext } from "../stream-context.js";

const NAME = "envoy.filters.http.fault";
const TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

interface Fault {
  delayMs?: number;
  delayFromHeader: boolean;
  delayFraction: number;
  abortStatus?: number;
  abortGrpc?: number;
  abortFromHeader: boolean;
  abortFraction: number;
}

function compile(cfg: HTTPFault__Output): Fault {
  const d = cfg.delay;
  const a = cfg.abort;
  return {
    delayMs: d?.fixed_delay ? durationMs(d.fixed_delay, 0) : undefined,
    delayFromHeader: d?.fault_delay_secifier === "header_delay",
    delayFraction: d?.percentage ? fractionOf(d.percentage) : d ? 1 : 0,
    abortStatus: a?.error_type === "http_status" ? a.http_status : undefined,
    abortGrpc: a?.error_type === "grpc_status" ? a.grpc_status : undefined,
    abortFromHeader: a?.error_type === "header_abort",
    abortFraction: a?.percentage ? fractionOf(a.percentage) : a ? 1 : 0,
  };
}

function decode(any: AnyValue | null, where: string): Fault | undefined {
  if (!any) return undefined;
  const r = decodeAny<HTTPFault__Output>(any, where);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
  return compile(r.value);
}

class FaultFilter implements HttpFilter {
  readonly name = NAME;
  private readonly perRoute = new WeakMap<object, Fault | null>();

  constructor(private readonly base: Fault | undefined, private readonly stats: import("../../stats/stats.js").Stats, private readonly prefix: string) {}

  private faultFor(ctx: StreamContext): Fault | undefined {
    const route = ctx.route!;
    let f = this.perRoute.get(route);
    if (f === undefined) {
      const any = route.perFilterConfig.get(NAME);
      f = any ? decode(any, `typed_per_filter_config.${NAME}`) ?? null : null;
      this.perRoute.set(route, f);
    }
    return f ?? this.base;
  }

  onRequest(ctx: StreamContext): FilterStatus | Promise<FilterStatus> {
    const f = this.faultFor(ctx);
    if (!f) return "continue";
    let delay = 0;
    if (f.delayFromHeader) delay = Number(ctx.view.header("x-envoy-fault-delay-request") ?? 0);
    else if (f.delayMs !== undefined && Math.random() < f.delayFraction) delay = f.delayMs;
    const abort = () => {
      let status = f.abortStatus;
      if (f.abortFromHeader) status = Number(ctx.view.header("x-envoy-fault-abort-request") ?? 0) || undefined;
      const grpc = f.abortGrpc;
      if ((status === undefined && grpc === undefined) || Math.random() >= f.abortFraction) return false;
      this.stats.inc(`http.${this.prefix}.fault.aborts_injected`);
      if (grpc !== undefined) localReply(ctx, 200, "fault filter abort", "FI", {}, grpc);
      else localReply(ctx, status!, "fault filter abort", "FI");
      return true;
    };
    if (delay > 0) {
      this.stats.inc(`http.${this.prefix}.fault.delays_injected`);
      ctx.flags.push("DI");
      ctx.faultDelayMs = delay;
      return new Promise((resolve) => setTimeout(() => resolve(abort() ? "stop" : "continue"), delay));
    }
    return abort() ? "stop" : "continue";
  }
}

registerFilter(NAME, TYPE, (any, ctx) => new FaultFilter(decode(any, NAME), ctx.stats, ctx.statPrefix));
