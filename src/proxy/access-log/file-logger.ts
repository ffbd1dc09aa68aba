// Access loggers (envoy.access_loggers.file, stdout, stderr) compiled from config: where each line goes and its
// format (Envoy's default, a text format, or json_format), for HTTP requests and TCP connections alike.
import { createWriteStream, type WriteStream } from "node:fs";
import type { AccessLog__Output } from "../../xds/generated/envoy/config/accesslog/v3/AccessLog.js";
import type { SubstitutionFormatString__Output } from "../../xds/generated/envoy/config/core/v3/SubstitutionFormatString.js";
import type { FileAccessLog__Output } from "../../xds/generated/envoy/extensions/access_loggers/file/v3/FileAccessLog.js";
import { compileJson, compileText, ENVOY_DEFAULT_FORMAT, type LogRecord } from "./log-format.js";
import { typedConfig } from "../config/typed-config.js";

export type RecordLogger = (record: LogRecord) => void;

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

interface StructLike { fields?: Record<string, ValueLike> }
interface ValueLike { stringValue?: string; numberValue?: number; boolValue?: boolean; structValue?: StructLike; listValue?: { values?: ValueLike[] }; nullValue?: unknown }

/** google.protobuf.Struct as decoded -> plain JSON. */
function plain(s: StructLike | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = plainValue(v);
  return out;
}

function plainValue(v: ValueLike): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.structValue) return plain(v.structValue);
  if (v.listValue) return (v.listValue.values ?? []).map(plainValue);
  return null;
}

/** A SubstitutionFormatString (text, inline text source, or JSON) as a formatter; Envoy's default format when empty. */
export function fromSubstitution(f: SubstitutionFormatString__Output, where: string): (r: LogRecord) => string {
  switch (f.format) {
    case "json_format": return compileJson(plain(f.json_format as StructLike), `${where}.json_format`);
    case "text_format": return compileText(f.text_format ?? "", `${where}.text_format`);
    case "text_format_source": {
      const source = f.text_format_source;
      if (source?.specifier !== "inline_string") throw new Error(`${where}.text_format_source: only inline_string is supported`);
      return compileText(source.inline_string ?? "", `${where}.text_format_source`);
    }
    default: return compileText(ENVOY_DEFAULT_FORMAT, where);
  }
}

export function compileRecordLoggers(logs: AccessLog__Output[], where: string): RecordLogger[] {
  return logs.map((log, i) => {
    const at = `${where}.access_log[${i}]`;
    if (!log.typed_config) throw new Error(`${at}: typed_config is required`);
    const decoded = typedConfig<FileAccessLog__Output & { log_format?: SubstitutionFormatString__Output | null }>(log.typed_config, `${at}.typed_config`);
    const type = log.typed_config.type_url;
    const c = decoded;
    let path: string;
    if (type.endsWith("file.v3.FileAccessLog")) path = c.path;
    else if (type.endsWith("StdoutAccessLog")) path = "/dev/stdout";
    else if (type.endsWith("StderrAccessLog")) path = "/dev/stderr";
    else throw new Error(`${at}: access logger ${type} is not supported (file, stdout, stderr are)`);
    let format: (r: LogRecord) => string;
    switch (c.access_log_format) {
      case "format": format = compileText(c.format ?? "", `${at}.typed_config.format`); break;
      case "json_format":
      case "typed_json_format": format = compileJson(plain((c.json_format ?? c.typed_json_format) as StructLike), `${at}.typed_config.json_format`); break;
      case "log_format": format = fromSubstitution(c.log_format!, `${at}.typed_config.log_format`); break;
      default: format = compileText(ENVOY_DEFAULT_FORMAT, at);
    }
    return (record: LogRecord) => sink(path).write(format(record));
  });
}
