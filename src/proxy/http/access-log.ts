// HTTP access logs: each request's StreamContext read as an access-log record by the configured loggers.
import type { AccessLog__Output } from "../../xds/generated/envoy/config/accesslog/v3/AccessLog.js";
import { compileRecordLoggers } from "../access-log/file-logger.js";
import type { LogRecord } from "../access-log/log-format.js";
import type { StreamContext } from "./stream-context.js";

export type AccessLogger = (ctx: StreamContext) => void;

function single(v: string | string[] | number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(",") : String(v);
}

/** The request as logged: headers as forwarded (x-request-id and x-envoy-original-path included), then as received. */
export function httpRecord(ctx: StreamContext): LogRecord {
  const res = ctx.res;
  return {
    startTime: ctx.startTime,
    responseCode: ctx.responseCode,
    flags: ctx.flags,
    bytesReceived: ctx.bytesReceived,
    bytesSent: ctx.bytesSent,
    protocol: ctx.req.httpVersion === "2.0" ? "HTTP/2" : `HTTP/${ctx.req.httpVersion}`,
    upstreamHost: ctx.upstreamHost,
    upstreamCluster: ctx.upstreamCluster,
    routeName: ctx.route?.name,
    downstreamRemote: `${ctx.conn.remoteAddress}:${ctx.conn.remotePort}`,
    downstreamLocal: `${ctx.conn.localAddress}:${ctx.conn.localPort}`,
    peerPrincipal: ctx.conn.peerPrincipal,
    serverName: ctx.conn.requestedServerName,
    requestHeader: (name) => (name.charCodeAt(0) === 58 ? ctx.view.header(name) : single(ctx.upstreamHeaders[name]) ?? ctx.view.header(name)),
    responseHeader: (name) => single(res.getHeader(name) as string | string[] | number | undefined),
    responseTrailer: () => undefined,
  };
}

export function compileAccessLogs(logs: AccessLog__Output[], where: string): AccessLogger[] {
  return compileRecordLoggers(logs, where).map((log) => (ctx: StreamContext) => log(httpRecord(ctx)));
}
