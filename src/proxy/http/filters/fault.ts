// envoy.filters.http.fault: delays and aborts by percentage (optionally driven by request headers), per route too.
import type { HTTPFault__Output } from "../../../xds/generated/envoy/extensions/filters/http/fault/v3/HTTPFault.js";
import type { AnyValue } from "../../../xds/resource.js";
import { typedConfig } from "../../config/typed-config.js";
import { perRouteConfig, registerPerRouteConfig } from "../per-route-config.js";
import { durationMs } from "../../util/duration.js";
import { fractionOf } from "../route-table.js";
import { DENOMINATOR, Runtime } from "../../runtime/runtime.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import type { StreamContext } from "../stream-context.js";

const NAME = "envoy.filters.http.fault";
const TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

/** The fault's values read per request: the runtime's keys (Envoy's fault.http.* or the config's *_runtime names) win. */
interface Fault {
  delayMs(): number | undefined;
  delayFromHeader: boolean;
  delayFraction(): number;
  abortStatus(): number | undefined;
  abortGrpc(): number | undefined;
  abortFromHeader: boolean;
  abortFraction(): number;
}

function compile(cfg: HTTPFault__Output, rt: Runtime): Fault {
  const d = cfg.delay;
  const a = cfg.abort;
  const delayMs = d?.fixed_delay ? durationMs(d.fixed_delay, 0) : undefined;
  const delayDefault = d?.percentage ? fractionOf(d.percentage) : d ? 1 : 0;
  const delayDen = DENOMINATOR[d?.percentage?.denominator ?? "HUNDRED"] ?? 100;
  const abortDefault = a?.percentage ? fractionOf(a.percentage) : a ? 1 : 0;
  const abortDen = DENOMINATOR[a?.percentage?.denominator ?? "HUNDRED"] ?? 100;
  const http = a?.error_type === "http_status" ? a.http_status : undefined;
  const grpc = a?.error_type === "grpc_status" ? a.grpc_status : undefined;
  const key = (configured: string, fallback: string) => configured || fallback;
  return {
    delayMs: () => (delayMs === undefined ? undefined : rt.integer(key(cfg.delay_duration_runtime, "fault.http.delay.fixed_duration_ms"), delayMs)),
    delayFromHeader: d?.fault_delay_secifier === "header_delay",
    delayFraction: () => rt.fraction(key(cfg.delay_percent_runtime, "fault.http.delay.fixed_delay_percent"), delayDefault, delayDen),
    abortStatus: () => (http === undefined ? undefined : rt.integer(key(cfg.abort_http_status_runtime, "fault.http.abort.http_status"), http)),
    abortGrpc: () => (grpc === undefined ? undefined : rt.integer(key(cfg.abort_grpc_status_runtime, "fault.http.abort.grpc_status"), grpc)),
    abortFromHeader: a?.error_type === "header_abort",
    abortFraction: () => rt.fraction(key(cfg.abort_percent_runtime, "fault.http.abort.abort_percent"), abortDefault, abortDen),
  };
}

function decode(any: AnyValue | null, where: string, rt: Runtime): Fault | undefined {
  if (!any) return undefined;
  return compile(typedConfig<HTTPFault__Output>(any, where), rt);
}

class FaultFilter implements HttpFilter {
  readonly name = NAME;

  constructor(private readonly base: Fault | undefined, private readonly stats: import("../../stats/stats.js").Stats, private readonly prefix: string) {}

  private faultFor(ctx: StreamContext): Fault | undefined {
    return perRouteConfig<Fault>(ctx.route, NAME, TYPE) ?? this.base;
  }

  onRequest(ctx: StreamContext): FilterStatus | Promise<FilterStatus> {
    const f = this.faultFor(ctx);
    if (!f) return "continue";
    let delay = 0;
    if (f.delayFromHeader) delay = Number(ctx.view.header("x-envoy-fault-delay-request") ?? 0);
    else {
      const ms = f.delayMs();
      if (ms !== undefined && Math.random() < f.delayFraction()) delay = ms;
    }
    const abort = () => {
      let status = f.abortStatus();
      if (f.abortFromHeader) status = Number(ctx.view.header("x-envoy-fault-abort-request") ?? 0) || undefined;
      const grpc = f.abortGrpc();
      if ((status === undefined && grpc === undefined) || Math.random() >= f.abortFraction()) return false;
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

registerPerRouteConfig(TYPE, (any, where, rt) => decode(any, where, rt));
registerFilter(NAME, TYPE, (any, ctx) => {
  const rt = ctx.runtime ?? Runtime.fromBootstrap(null, "", "");
  return new FaultFilter(decode(any, NAME, rt), ctx.stats, ctx.statPrefix);
});
