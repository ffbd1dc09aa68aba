// Trace context propagation: W3C `traceparent`/`tracestate` and B3 (multi-header `x-b3-*` and single `b3`),
// read from a request and written onto the request that goes upstream, as Envoy's tracers do.
import { randomFillSync } from "node:crypto";
import type { RequestView } from "../http/request-view.js";

export interface TraceContext {
  traceId: string; // 32 lowercase hex digits
  /** The span the incoming request belongs to: the parent of the span this proxy makes. */
  parentSpanId: string;
  /** The caller's decision; undefined when the caller did not say. */
  sampled: boolean | undefined;
  traceState?: string;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = "0".repeat(32);
const ZERO16 = "0".repeat(16);

function validTrace(id: string): boolean {
  return HEX32.test(id) && id !== ZERO32;
}
function validSpan(id: string): boolean {
  return HEX16.test(id) && id !== ZERO16;
}

function parseTraceparent(value: string): TraceContext | undefined {
  // version "00" has exactly 4 fields; later versions may append more, which we ignore (W3C's forward rule).
  const parts = value.trim().toLowerCase().split("-");
  if (parts.length < 4 || parts[0].length !== 2 || parts[0] === "ff" || (parts[0] === "00" && parts.length !== 4)) return undefined;
  const [, traceId, spanId, flags] = parts;
  if (!validTrace(traceId) || !validSpan(spanId) || !/^[0-9a-f]{2}$/.test(flags)) return undefined;
  return { traceId, parentSpanId: spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === "1" || v === "true" || v === "d") return true;
  if (v === "0" || v === "false") return false;
  return undefined;
}

/** 64-bit B3 trace ids are left-padded to 128 bits, as the W3C and OpenTelemetry interop rules say. */
function b3Trace(id: string): string {
  const lower = id.toLowerCase();
  return lower.length === 16 ? ZERO16 + lower : lower;
}

function parseB3(view: RequestView): TraceContext | undefined {
  const single = view.header("b3");
  if (single) {
    const [t, s, flag] = single.split("-");
    if (t && s && validTrace(b3Trace(t)) && validSpan(s.toLowerCase())) return { traceId: b3Trace(t), parentSpanId: s.toLowerCase(), sampled: b3Sampled(flag) };
    return undefined;
  }
  const t = view.header("x-b3-traceid");
  const s = view.header("x-b3-spanid");
  if (!t || !s || !validTrace(b3Trace(t)) || !validSpan(s.toLowerCase())) return undefined;
  const flags = view.header("x-b3-flags") === "1" ? true : undefined;
  return { traceId: b3Trace(t), parentSpanId: s.toLowerCase(), sampled: flags ?? b3Sampled(view.header("x-b3-sampled")) };
}

/** The caller's trace context: W3C first (it is what OpenTelemetry sends), then B3. */
export function extractContext(view: RequestView): TraceContext | undefined {
  const tp = view.header("traceparent");
  const ctx = tp ? parseTraceparent(tp) : undefined;
  if (ctx) {
    const ts = view.header("tracestate");
    if (ts) ctx.traceState = ts;
    return ctx;
  }
  return parseB3(view);
}

/** Writes this proxy's span as the parent for whoever is called next, in both header families. */
export function injectContext(headers: Record<string, string | string[] | undefined>, traceId: string, spanId: string, parentSpanId: string, sampled: boolean): void {
  headers.traceparent = `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
  // A 64-bit trace (zero-padded for W3C) keeps its 16 digits in B3, as Zipkin and Envoy's zipkin tracer write it.
  const b3TraceId = traceId.startsWith("0000000000000000") ? traceId.slice(16) : traceId;
  headers["x-b3-traceid"] = b3TraceId;
  headers["x-b3-spanid"] = spanId;
  if (parentSpanId) headers["x-b3-parentspanid"] = parentSpanId;
  else delete headers["x-b3-parentspanid"];
  headers["x-b3-sampled"] = sampled ? "1" : "0";
  delete headers["x-b3-flags"];
  if (headers.b3 !== undefined) headers.b3 = `${b3TraceId}-${spanId}-${sampled ? "1" : "0"}${parentSpanId ? `-${parentSpanId}` : ""}`;
}

// Ids come from a pooled buffer of random bytes, refilled when used up: one crypto call per 512 ids, not per id.
const pool = Buffer.alloc(4096);
let offset = pool.length;

function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return id;
}

export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO32 ? newTraceId() : id;
}

export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO16 ? newSpanId() : id;
}
