// The connection manager's local_reply_config: mappers that, for the replies the proxy makes itself (no route, no
// healthy upstream, rate limited, direct responses...), match by status, headers or response flags and rewrite the
// status, body and headers; and body_format, which renders every such body (text or JSON, %LOCAL_REPLY_BODY%).
import type { LocalReplyConfig__Output } from "../../xds/generated/envoy/extensions/filters/network/http_connection_manager/v3/LocalReplyConfig.js";
import type { AccessLogFilter__Output } from "../../xds/generated/envoy/config/accesslog/v3/AccessLogFilter.js";
import type { SubstitutionFormatString__Output } from "../../xds/generated/envoy/config/core/v3/SubstitutionFormatString.js";
import type { DataSource__Output } from "../../xds/generated/envoy/config/core/v3/DataSource.js";
import { readFileSync } from "node:fs";
import { fromSubstitution } from "../access-log/file-logger.js";
import type { LogRecord } from "../access-log/log-format.js";
import { compileHeaderMatcher } from "../matchers/string-matcher.js";
import { compileHeaderMutation, type HeaderMutation } from "./header-mutation.js";
import { httpRecord } from "./access-log.js";
import type { StreamContext } from "./stream-context.js";
import type { Runtime } from "../runtime/runtime.js";

export interface LocalReply {
  status: number;
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

export type LocalReplyRewriter = (ctx: StreamContext, reply: LocalReply) => LocalReply;

type Match = (ctx: StreamContext, status: number) => boolean;

function compileFilter(f: AccessLogFilter__Output, where: string, rt: Runtime): Match {
  switch (f.filter_specifier) {
    case "status_code_filter": {
      const c = f.status_code_filter!.comparison!;
      const key = c.value?.runtime_key;
      const fallback = c.value?.default_value ?? 0;
      const value = () => rt.integer(key, fallback);
      switch (c.op) {
        case "EQ": return (_ctx, s) => s === value();
        case "GE": return (_ctx, s) => s >= value();
        case "LE": return (_ctx, s) => s <= value();
        default: throw new Error(`${where}.status_code_filter.comparison.op: ${c.op} is not supported (EQ, GE, LE are)`);
      }
    }
    case "header_filter": {
      const m = compileHeaderMatcher(f.header_filter!.header!);
      return (ctx) => m((n) => ctx.view.header(n));
    }
    case "response_flag_filter": {
      const flags = new Set(f.response_flag_filter!.flags);
      return (ctx) => (flags.size === 0 ? ctx.flags.length > 0 : ctx.flags.some((x) => flags.has(x)));
    }
    case "and_filter": {
      const all = f.and_filter!.filters.map((x, i) => compileFilter(x, `${where}.and_filter.filters[${i}]`, rt));
      return (ctx, s) => all.every((m) => m(ctx, s));
    }
    case "or_filter": {
      const any = f.or_filter!.filters.map((x, i) => compileFilter(x, `${where}.or_filter.filters[${i}]`, rt));
      return (ctx, s) => any.some((m) => m(ctx, s));
    }
    // The proxy serves no health check requests itself, so every request passes "not a health check".
    case "not_health_check_filter": return () => true;
    default: throw new Error(`${where}: filter ${f.filter_specifier ?? "(none)"} is not supported here (status_code_filter, header_filter, response_flag_filter, and_filter, or_filter, not_health_check_filter are)`);
  }
}

function text(d: DataSource__Output | null, where: string): string | undefined {
  if (!d) return undefined;
  if (d.inline_string) return d.inline_string;
  if (d.inline_bytes?.length) return Buffer.from(d.inline_bytes).toString("utf8");
  if (d.filename) return readFileSync(d.filename, "utf8");
  if (d.specifier) throw new Error(`${where}: only inline_string, inline_bytes and filename are supported`);
  return undefined;
}

interface Format { render(r: LogRecord): string; contentType: string }

function format(f: SubstitutionFormatString__Output | null, where: string): Format | undefined {
  if (!f?.format) return undefined;
  return { render: fromSubstitution(f, where), contentType: f.content_type || (f.format === "json_format" ? "application/json" : "text/plain") };
}

export function compileLocalReplyConfig(c: LocalReplyConfig__Output | null, where: string, rt: Runtime): LocalReplyRewriter | undefined {
  if (!c || (c.mappers.length === 0 && !c.body_format)) return undefined;
  const mappers = c.mappers.map((m, i) => {
    const at = `${where}.mappers[${i}]`;
    let headers: HeaderMutation;
    try {
      headers = compileHeaderMutation([{ add: m.headers_to_add, remove: [] }]);
    } catch (err) {
      throw new Error(`${at}.headers_to_add: ${(err as Error).message}`, { cause: err });
    }
    return { match: compileFilter(m.filter!, `${at}.filter`, rt), status: m.status_code?.value, body: text(m.body, `${at}.body`), format: format(m.body_format_override, `${at}.body_format_override`), headers };
  });
  const base = format(c.body_format, `${where}.body_format`);
  return (ctx, reply) => {
    // The first mapper that matches applies; the body format renders what results (as Envoy's LocalReply does).
    const m = mappers.find((x) => x.match(ctx, reply.status));
    const out = { ...reply, headers: { ...reply.headers } };
    if (m) {
      if (m.status !== undefined) out.status = m.status;
      if (m.body !== undefined) out.body = m.body;
      if (!m.headers.empty) {
        const h: Record<string, string | string[] | undefined> = {};
        m.headers.apply(h);
        for (const [k, v] of Object.entries(h)) if (v !== undefined) out.headers[k] = Array.isArray(v) ? v.join(", ") : v;
      }
    }
    const f = m?.format ?? base;
    if (f) {
      const record = { ...httpRecord(ctx), responseCode: out.status, localReplyBody: out.body };
      out.body = f.render(record);
      out.contentType = f.contentType;
    }
    return out;
  };
}
