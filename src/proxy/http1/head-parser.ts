// Strict HTTP/1.x message heads (RFC 9112): the request or status line and the header fields, with the framing
// decisions a proxy must make safely. Anything ambiguous (two framings, folded lines, bytes no token allows) is an
// error rather than a guess: a proxy that reads a message differently from the server behind it can be smuggled past.
import type { IncomingHttpHeaders } from "node:http";

export class HeadError extends Error {
  constructor(readonly status: 400 | 405 | 431 | 501 | 505 | 502, message: string) {
    super(message);
  }
}

export interface MessageHead {
  /** HTTP/1.x minor version: 0 or 1. */
  minor: number;
  /** Header fields as Node presents them: lower-case names; repeats joined with ", " ("; " for cookie), set-cookie an array. */
  headers: IncomingHttpHeaders;
  /** Content-Length, or -1 when there is none. */
  contentLength: number;
  chunked: boolean;
  /** The Connection header asks to close after this message (or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** Connection: upgrade with an Upgrade header. */
  upgrade: boolean;
}

export interface RequestHead extends MessageHead {
  method: string;
  /** The origin-form target (path and query); absolute-form is reduced to it, its authority becoming the Host. */
  target: string;
  expectContinue: boolean;
}

export interface ResponseHead extends MessageHead {
  status: number;
  reason: string;
}

// tchar (RFC 9110 5.6.2): the only bytes a method or a field name may hold.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/** Field names whose repeats Node keeps only once: a second, different value of these is refused instead. */
const SINGLE = new Set(["host", "content-length", "content-type", "authorization", "proxy-authorization", "user-agent", "referer", "location", "etag", "server", "age", "expires", "from", "if-modified-since", "if-unmodified-since", "last-modified", "max-forwards", "retry-after"]);

/**
 * Common field names as they are written (lower-case and Title-Case) to their lower-case, internalised form: looking
 * one up skips lower-casing and makes the header object's keys strings V8 already knows (a fresh string key costs a
 * string-table lookup on every access).
 */
const KNOWN_NAMES = new Map<string, string>();
for (const name of [
  "host", "user-agent", "accept", "accept-encoding", "accept-language", "content-type", "content-length", "content-encoding", "connection",
  "keep-alive", "date", "server", "cookie", "set-cookie", "authorization", "cache-control", "pragma", "transfer-encoding", "te", "trailer",
  "upgrade", "expect", "etag", "last-modified", "location", "vary", "origin", "referer", "if-none-match", "if-modified-since", "x-request-id",
  "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-client-cert", "x-envoy-upstream-service-time", "x-envoy-attempt-count",
  "x-envoy-original-path", "x-envoy-peer-metadata", "x-envoy-peer-metadata-id", "x-envoy-decorator-operation", "x-envoy-expected-rq-timeout-ms",
  "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "b3", "traceparent", "tracestate", "x-ot-span-context",
  "grpc-status", "grpc-message", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "access-control-allow-origin", "strict-transport-security",
]) {
  KNOWN_NAMES.set(name, name);
  KNOWN_NAMES.set(name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()), name);
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Control bytes other than HTAB, CR and LF, which no head may hold (checked once over the whole head). A CR or LF
 * that is not part of a line's CRLF is refused line by line: a bare one is how requests are smuggled past lenient
 * parsers.
 */
// eslint-disable-next-line no-control-regex -- matching control bytes is the point
const FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** A header value that cannot end its line early: values set by filters or config are checked before they are written. */
export function safeFieldValue(v: string): boolean {
  return v.indexOf("\r") < 0 && v.indexOf("\n") < 0 && v.indexOf("\0") < 0;
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Parses the field lines of a head (`text` without the start line and the final blank line) into `out`. */
function parseFields(text: string, from: number, out: MessageHead, maxHeaders: number, fail: (m: string) => never): void {
  const headers = out.headers;
  let count = 0;
  let te: string | undefined;
  let connection = "";
  let pos = from;
  while (pos < text.length) {
    let eol = text.indexOf("\r\n", pos);
    if (eol < 0) eol = text.length;
    const line = text.slice(pos, eol);
    pos = eol + 2;
    if (line.indexOf("\n") >= 0 || line.indexOf("\r") >= 0) fail("a CR or LF outside a line ending");
    if (++count > maxHeaders) throw new HeadError(431, `more than ${maxHeaders} header fields`);
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) fail("obsolete line folding is not allowed");
    const colon = line.indexOf(":");
    if (colon <= 0) fail(`header line without a field name: ${JSON.stringify(line.slice(0, 40))}`);
    const rawName = line.slice(0, colon);
    let name = KNOWN_NAMES.get(rawName);
    if (name === undefined) {
      if (!isToken(rawName)) fail(`invalid header field name ${JSON.stringify(rawName.slice(0, 40))}`);
      name = rawName.toLowerCase();
    }
    const value = trimOws(line.slice(colon + 1));
    switch (name) {
      case "content-length": {
        if (!/^\d{1,15}$/.test(value)) fail(`invalid content-length ${JSON.stringify(value.slice(0, 40))}`);
        const n = Number(value);
        if (out.contentLength >= 0 && out.contentLength !== n) fail("two different content-length values");
        out.contentLength = n;
        break;
      }
      case "transfer-encoding":
        te = te === undefined ? value : `${te}, ${value}`;
        break;
      case "connection":
        connection = connection ? `${connection},${value.toLowerCase()}` : value.toLowerCase();
        break;
    }
    const prev = headers[name];
    if (prev === undefined) {
      headers[name] = name === "set-cookie" ? [value] : value;
    } else if (name === "set-cookie") {
      (prev as string[]).push(value);
    } else if (SINGLE.has(name)) {
      if (prev !== value) fail(`two different ${name} headers`);
    } else {
      headers[name] = `${prev as string}${name === "cookie" ? "; " : ", "}${value}`;
    }
  }
  if (te !== undefined) {
    if (out.contentLength >= 0) fail("both transfer-encoding and content-length: the message length is ambiguous");
    const codings = te.toLowerCase().split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    // Only chunked is decoded; a proxy cannot frame a body whose final coding it does not know.
    if (codings.length !== 1 || codings[0] !== "chunked") throw new HeadError(501, `transfer-encoding ${JSON.stringify(te)} is not supported (only chunked)`);
    out.chunked = true;
  }
  if (connection === "keep-alive") {
    if (out.minor === 0) out.close = false;
  } else if (connection) {
    for (const token of connection.split(",")) {
      const t = token.trim();
      if (t === "close") out.close = true;
      else if (t === "keep-alive" && out.minor === 0) out.close = false;
      else if (t === "upgrade" && headers.upgrade !== undefined) out.upgrade = true;
    }
  }
}

function version(s: string): number {
  if (s === "HTTP/1.1") return 1;
  if (s === "HTTP/1.0") return 0;
  return -1;
}

/**
 * Judges the start of a request head still arriving: the method must be a token. Random bytes are refused at once
 * instead of being held until request_headers_timeout or max_request_headers_kb.
 */
export function checkPartialRequestLine(buf: Buffer, start: number): void {
  let i = start;
  while (i < buf.length && (buf[i] === 13 || buf[i] === 10)) i++;
  // A head with a bare LF never ends in CRLFCRLF: refuse it now rather than when the head timeout fires.
  for (let j = buf.indexOf(10, i); j >= 0; j = buf.indexOf(10, j + 1)) {
    if (buf[j - 1] !== 13) throw new HeadError(400, "a bare LF in the request head (lines end with CRLF)");
  }
  for (const first = i; i < buf.length && buf[i] !== 32; i++) {
    const c = buf[i];
    if (c >= 128 || TCHAR[c] === 0) throw new HeadError(400, `invalid method ${JSON.stringify(buf.toString("latin1", first, Math.min(i + 1, first + 20)))}`);
  }
}

/** Parses a request head: `buf[start, end)` is everything before the blank line that ends it. */
export function parseRequestHead(buf: Buffer, start: number, end: number, maxHeaders: number): RequestHead {
  const text = buf.toString("latin1", start, end);
  const fail = (m: string): never => { throw new HeadError(400, m); };
  if (FORBIDDEN.test(text)) fail("a control byte in the request head");
  let eol = text.indexOf("\r\n");
  if (eol < 0) eol = text.length;
  const line = text.slice(0, eol);
  if (line.indexOf("\n") >= 0 || line.indexOf("\r") >= 0) fail("a CR or LF outside a line ending");
  const sp1 = line.indexOf(" ");
  const sp2 = line.lastIndexOf(" ");
  if (sp1 <= 0 || sp2 === sp1) fail(`malformed request line ${JSON.stringify(line.slice(0, 60))}`);
  const method = line.slice(0, sp1);
  if (!isToken(method)) fail(`invalid method ${JSON.stringify(method.slice(0, 20))}`);
  let target = line.slice(sp1 + 1, sp2);
  const minor = version(line.slice(sp2 + 1));
  if (minor < 0) {
    if (/^HTTP\/\d\.\d$/.test(line.slice(sp2 + 1))) throw new HeadError(505, `${line.slice(sp2 + 1)} is not supported on this connection`);
    fail(`malformed request line ${JSON.stringify(line.slice(0, 60))}`);
  }
  if (target.indexOf(" ") >= 0 || target.indexOf("\t") >= 0) fail("the request target holds a space");
  if (method === "CONNECT") throw new HeadError(405, "CONNECT is not supported on this listener");
  const head: RequestHead = { method, target, minor, headers: {}, contentLength: -1, chunked: false, close: minor === 0, upgrade: false, expectContinue: false };
  parseFields(text, eol + 2, head, maxHeaders, fail);
  if (target.charCodeAt(0) !== 47 /* / */) {
    const abs = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(target);
    if (abs) {
      // Absolute-form: its authority replaces Host (RFC 9112 3.2.2).
      head.headers.host = abs[1];
      target = abs[2] || "/";
      head.target = target;
    } else if (!(target === "*" && method === "OPTIONS")) fail(`invalid request target ${JSON.stringify(target.slice(0, 60))}`);
  }
  if (head.chunked && minor === 0) fail("transfer-encoding in an HTTP/1.0 request");
  if (minor === 1 && head.headers.host === undefined) fail("an HTTP/1.1 request needs a host header");
  const expect = head.headers.expect;
  if (expect !== undefined) head.expectContinue = (expect as string).toLowerCase() === "100-continue";
  return head;
}

/** Parses a response head from an upstream; errors are 502s to the downstream. */
export function parseResponseHead(buf: Buffer, start: number, end: number, maxHeaders: number): ResponseHead {
  const text = buf.toString("latin1", start, end);
  const fail = (m: string): never => { throw new HeadError(502, m); };
  if (FORBIDDEN.test(text)) fail("a control byte in the response head");
  let eol = text.indexOf("\r\n");
  if (eol < 0) eol = text.length;
  const line = text.slice(0, eol);
  if (line.indexOf("\n") >= 0 || line.indexOf("\r") >= 0) fail("a CR or LF outside a line ending");
  const minor = version(line.slice(0, 8));
  if (minor < 0 || line.charCodeAt(8) !== 32 || !/^\d{3}$/.test(line.slice(9, 12)) || (line.length > 12 && line.charCodeAt(12) !== 32)) fail(`malformed status line ${JSON.stringify(line.slice(0, 60))}`);
  const head: ResponseHead = { status: Number(line.slice(9, 12)), reason: line.slice(13), minor, headers: {}, contentLength: -1, chunked: false, close: minor === 0, upgrade: false };
  parseFields(text, eol + 2, head, maxHeaders, fail);
  return head;
}

/** Parses the trailer section of a chunked body (field lines, CRLF-separated, without the final blank line). */
export function parseTrailers(text: string, maxHeaders: number): Record<string, string> {
  if (FORBIDDEN.test(text)) throw new HeadError(400, "trailers: a control byte");
  const head: MessageHead = { minor: 1, headers: {}, contentLength: -1, chunked: false, close: false, upgrade: false };
  parseFields(text, 0, head, maxHeaders, (m) => { throw new HeadError(400, `trailers: ${m}`); });
  const out: Record<string, string> = {};
  for (const k in head.headers) {
    const v = head.headers[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}
