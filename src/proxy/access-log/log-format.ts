// Envoy's access-log command operators (%REQ(X)%, %RESPONSE_CODE%, %UPSTREAM_HOST%, ...), compiled once per config
// into functions over what one request or TCP connection recorded; text formats and json_format's typed values.
import { hostname } from "node:os";

/** What an access log can say about one HTTP request or one TCP connection. */
export interface LogRecord {
  startTime: number;
  /** 0 for TCP connections (Envoy logs 0 there too). */
  responseCode: number;
  flags: string[];
  bytesReceived: number;
  bytesSent: number;
  protocol: string | undefined;
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  routeName: string | undefined;
  downstreamRemote: string;
  downstreamLocal: string;
  peerPrincipal: string | undefined;
  serverName: string | undefined;
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
  responseTrailer(name: string): string | undefined;
  /** The body of a reply the proxy made itself (local_reply_config's %LOCAL_REPLY_BODY%). */
  localReplyBody?: string;
}

type Value = string | number | undefined;
type Operator = (r: LogRecord) => Value;

function withoutPort(address: string): string {
  if (address.startsWith("[")) return address.slice(1, address.indexOf("]"));
  const colon = address.lastIndexOf(":");
  return colon > 0 && address.indexOf(":") === colon ? address.slice(0, colon) : address;
}

const SIMPLE: Record<string, Operator> = {
  START_TIME: (r) => new Date(r.startTime).toISOString(),
  RESPONSE_CODE: (r) => r.responseCode,
  RESPONSE_FLAGS: (r) => (r.flags.length ? r.flags.join(",") : undefined),
  BYTES_RECEIVED: (r) => r.bytesReceived,
  BYTES_SENT: (r) => r.bytesSent,
  DURATION: (r) => Date.now() - r.startTime,
  PROTOCOL: (r) => r.protocol,
  UPSTREAM_HOST: (r) => r.upstreamHost,
  UPSTREAM_CLUSTER: (r) => r.upstreamCluster,
  ROUTE_NAME: (r) => r.routeName,
  DOWNSTREAM_REMOTE_ADDRESS: (r) => r.downstreamRemote,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (r) => withoutPort(r.downstreamRemote),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: (r) => r.downstreamRemote,
  DOWNSTREAM_LOCAL_ADDRESS: (r) => r.downstreamLocal,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: (r) => withoutPort(r.downstreamLocal),
  DOWNSTREAM_PEER_URI_SAN: (r) => r.peerPrincipal,
  REQUESTED_SERVER_NAME: (r) => r.serverName,
  HOSTNAME: () => HOSTNAME,
  LOCAL_REPLY_BODY: (r) => r.localReplyBody,
};

const HOSTNAME = hostname();

/** %REQ(X?Y):Z%, %RESP(...)%, %TRAILER(...)%: a header, its alternative, truncated to Z characters. */
function headerOperator(kind: string, arg: string, max: number | undefined): Operator {
  const [main, alt] = arg.toLowerCase().split("?");
  const read = kind === "REQ" ? (r: LogRecord, n: string) => r.requestHeader(n) : kind === "RESP" ? (r: LogRecord, n: string) => r.responseHeader(n) : (r: LogRecord, n: string) => r.responseTrailer(n);
  return (r) => {
    const v = read(r, main) ?? (alt ? read(r, alt) : undefined);
    return v !== undefined && max !== undefined ? v.slice(0, max) : v;
  };
}

const OPERATOR = /%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

function compileOperator(name: string, arg: string | undefined, max: string | undefined, where: string): Operator {
  if (name === "REQ" || name === "RESP" || name === "TRAILER") {
    if (!arg) throw new Error(`${where}: %${name}(...)% needs a header name, e.g. %${name}(X-REQUEST-ID)%`);
    return headerOperator(name, arg, max === undefined ? undefined : Number(max));
  }
  const op = SIMPLE[name];
  if (!op) throw new Error(`${where}: the command operator %${name}% is not supported (supported: ${[...Object.keys(SIMPLE), "REQ(X)", "RESP(X)", "TRAILER(X)"].join(", ")})`);
  return op;
}

/** A text format: literal text with operators; unset values print "-". */
export function compileText(format: string, where: string): (r: LogRecord) => string {
  const parts: Array<string | Operator> = [];
  let last = 0;
  for (const m of format.matchAll(OPERATOR)) {
    if (m.index! > last) parts.push(format.slice(last, m.index));
    parts.push(compileOperator(m[1], m[2], m[3], where));
    last = m.index! + m[0].length;
  }
  if (last < format.length) parts.push(format.slice(last));
  return (r) => {
    let s = "";
    for (const p of parts) {
      if (typeof p === "string") s += p;
      else {
        const v = p(r);
        s += v === undefined || v === "" ? "-" : String(v);
      }
    }
    return s;
  };
}

/**
 * json_format: each key's value is a format string; one that is a single operator keeps its type (numbers stay
 * numbers, unset is null), as Envoy's typed JSON logs do; nested objects are formatted likewise.
 */
export function compileJson(format: Record<string, unknown>, where: string): (r: LogRecord) => string {
  const build = (obj: Record<string, unknown>, path: string): (r: LogRecord) => Record<string, unknown> => {
    const fields = Object.entries(obj).map(([key, value]): [string, (r: LogRecord) => unknown] => {
      const at = `${path}.${key}`;
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return [key, build(value as Record<string, unknown>, at)];
      if (typeof value !== "string") return [key, () => value];
      const single = /^%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%$/.exec(value);
      if (single) {
        const op = compileOperator(single[1], single[2], single[3], at);
        return [key, (r) => op(r) ?? null];
      }
      const text = compileText(value, at);
      return [key, text];
    });
    return (r) => {
      const out: Record<string, unknown> = {};
      for (const [k, f] of fields) out[k] = f(r);
      return out;
    };
  };
  const root = build(format, where);
  return (r) => `${JSON.stringify(root(r))}\n`;
}

/** Envoy's default format, for HTTP and TCP alike (TCP fills the HTTP fields with "-"). */
export const ENVOY_DEFAULT_FORMAT = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";
