// Access logs: Envoy's default text format, or JSON, written per request to a file or stdout/stderr.
import { createWriteStream, type WriteStream } from "node:fs";
import type { AccessLog__Output } from "../../xds/generated/envoy/config/accesslog/v3/AccessLog.js";
import type { FileAccessLog__Output } from "../../xds/generated/envoy/extensions/access_loggers/file/v3/FileAccessLog.js";
import { decodeAny } from "../../xds/resource.js";
import type { StreamContext } from "./stream-context.js";

export type AccessLogger = (ctx: StreamContext) => void;

const streams = new Map<string, WriteStream | NodeJS.WriteStream>();

function sink(path: string): WriteStream | NodeJS.WriteStream {
  if (path === "/dev/stdout") return process.stdout;
  if (path === "/dev/stderr") return process.stderr;
  let s = streams.get(path);
  if (!s) {
    s = createWriteStream(path, { flags: "a" });
    streams.set(path, s);
  }
  return s;
}

function dash(v: string | undefined): string {
  return v === undefined || v === "" ? "-" : v;
}

/** Envoy's default format, field for field. */
export function defaultLine(ctx: StreamContext): string {
  const duration = Date.now() - ctx.startTime;
  const original = ctx.view.header("x-envoy-original-path") ?? ctx.view.path;
  const protocol = ctx.req.httpVersion === "2.0" ? "HTTP/2" : `HTTP/${ctx.req.httpVersion}`;
  const ust = ctx.res.getHeader("x-envoy-upstream-service-time");
  return `[${new Date(ctx.startTime).toISOString()}] "${ctx.view.method} ${original} ${protocol}" ${ctx.responseCode} ${ctx.flags.length ? ctx.flags.join(",") : "-"} ${ctx.bytesReceived} ${ctx.bytesSent} ${duration} ${dash(ust === undefined ? undefined : String(ust))} "${dash(ctx.view.header("x-forwarded-for"))}" "${dash(ctx.view.header("user-agent"))}" "${dash(ctx.requestId)}" "${dash(ctx.view.authority)}" "${dash(ctx.upstreamHost)}"\n`;
}

export function jsonLine(ctx: StreamContext): string {
  return JSON.stringify({
    start_time: new Date(ctx.startTime).toISOString(),
    method: ctx.view.method,
    path: ctx.view.header("x-envoy-original-path") ?? ctx.view.path,
    protocol: ctx.req.httpVersion === "2.0" ? "HTTP/2" : `HTTP/${ctx.req.httpVersion}`,
    response_code: ctx.responseCode,
    response_flags: ctx.flags.length ? ctx.flags.join(",") : "-",
    bytes_received: ctx.bytesReceived,
    bytes_sent: ctx.bytesSent,
    duration: Date.now() - ctx.startTime,
    upstream_service_time: ctx.res.getHeader("x-envoy-upstream-service-time") ?? null,
    x_forwarded_for: ctx.view.header("x-forwarded-for") ?? null,
    user_agent: ctx.view.header("user-agent") ?? null,
    request_id: ctx.requestId,
    authority: ctx.view.authority,
    upstream_host: ctx.upstreamHost ?? null,
    upstream_cluster: ctx.upstreamCluster ?? null,
    downstream_remote_address: `${ctx.conn.remoteAddress}:${ctx.conn.remotePort}`,
  }) + "\n";
}

export function compileAccessLogs(logs: AccessLog__Output[], where: string): AccessLogger[] {
  return logs.map((log, i) => {
    if (!log.typed_config) throw new Error(`${where}.access_log[${i}]: typed_config is required`);
    const decoded = decodeAny<FileAccessLog__Output>(log.typed_config, `${where}.access_log[${i}].typed_config`);
    if (!decoded.ok) throw new Error(decoded.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
    const type = log.typed_config.type_url;
    let path: string;
    let json = false;
    if (type.endsWith("file.v3.FileAccessLog")) {
      path = decoded.value.path;
      json = decoded.value.access_log_format === "json_format" || !!decoded.value.log_format?.json_format;
    } else if (type.endsWith("StdoutAccessLog")) path = "/dev/stdout";
    else if (type.endsWith("StderrAccessLog")) path = "/dev/stderr";
    else throw new Error(`${where}.access_log[${i}]: access logger ${type} is not supported (file, stdout, stderr are)`);
    const format = json ? jsonLine : defaultLine;
    return (ctx: StreamContext) => sink(path).write(format(ctx));
  });
}
