// The embedded trace store: spans grouped by trace, bounded by a span budget and a byte budget (the oldest traces go
// first; OTLP takes spans unauthenticated, so a count alone let 60 spans of 7 MB each in), with attribute values capped
// as OpenTelemetry's attribute limits do and every drop counted; searched
// as Jaeger's UI searches (service, operation, duration, tags, time). No server to install; a real collector can
// take the same OTLP instead.
import { SPAN_KIND, STATUS_CODE, type AttributeValue, type OtlpBatch } from "../../xds/otlp-trace.js";
import type { TraceDisk } from "./trace-disk.js";

export interface StoredSpan {
  spanId: string;
  parentSpanId: string;
  service: string;
  operation: string;
  kind: "client" | "server" | "internal";
  /** Unix milliseconds (fractional). */
  startTime: number;
  durationMs: number;
  status: "ok" | "error";
  tags: Record<string, AttributeValue>;
}

export interface TraceSummary {
  traceId: string;
  rootService: string;
  rootOperation: string;
  startTime: number;
  durationMs: number;
  spanCount: number;
  errors: number;
  services: string[];
}

export interface TraceQuery {
  service?: string;
  operation?: string;
  minDurationMs?: number;
  maxDurationMs?: number;
  tags?: Record<string, string>;
  /** Unix milliseconds. */
  start?: number;
  end?: number;
  limit?: number;
  /** What min/maxDuration bound: the whole trace (Trellis' API, the default) or one matching span (Jaeger's API). */
  durationOf?: "trace" | "span";
}

/** OpenTelemetry's SDK defaults: 128 attributes a span; values longer than the cap are truncated. */
export const MAX_ATTRIBUTES = 128;
export const MAX_ATTRIBUTE_CHARS = 4096;
const SPAN_OVERHEAD_BYTES = 256;

/** What the store refused or cut to stay within its budgets (served at /api/v1/traces/stats). */
export interface TraceStoreStats {
  traces: number;
  spans: number;
  bytes: number;
  maxBytes: number;
  droppedSpans: number;
  evictedTraces: number;
  droppedAttributes: number;
  truncatedAttributes: number;
  /** With --trace-store DIR: the files that keep spans across restarts. */
  disk?: ReturnType<TraceDisk["stats"]>;
}

/** A copy of a string cut from a larger one: V8's slices keep the whole parent (megabytes) alive otherwise. */
function detached(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

interface Trace {
  spans: StoredSpan[];
  bytes: number;
  /** Arrival order, for eviction. */
  seq: number;
}

export class TraceStore {
  private readonly traces = new Map<string, Trace>();
  private spanCount = 0;
  private byteCount = 0;
  private seq = 0;
  private readonly drops = { droppedSpans: 0, evictedTraces: 0, droppedAttributes: 0, truncatedAttributes: 0 };
  private disk?: TraceDisk;

  constructor(private readonly maxSpans = 100_000, private readonly maxSpansPerTrace = 1000, private readonly maxBytes = 256 * 1024 * 1024) {}

  get size(): { traces: number; spans: number } {
    return { traces: this.traces.size, spans: this.spanCount };
  }

  stats(): TraceStoreStats {
    return { traces: this.traces.size, spans: this.spanCount, bytes: this.byteCount, maxBytes: this.maxBytes, ...this.drops, ...(this.disk ? { disk: this.disk.stats() } : {}) };
  }

  /** The span's attributes within the limits, and its approximate size in bytes (UTF-16: two a character). */
  private bounded(attributes: Record<string, AttributeValue>, name: string, service: string): { tags: Record<string, AttributeValue>; bytes: number } {
    const tags: Record<string, AttributeValue> = {};
    let bytes = SPAN_OVERHEAD_BYTES + 2 * (name.length + service.length);
    let n = 0;
    for (const [k, v] of Object.entries(attributes)) {
      if (++n > MAX_ATTRIBUTES || k.length > MAX_ATTRIBUTE_CHARS) {
        this.drops.droppedAttributes++;
        continue;
      }
      let value = v;
      if (typeof v === "string" && v.length > MAX_ATTRIBUTE_CHARS) {
        value = detached(v.slice(0, MAX_ATTRIBUTE_CHARS));
        this.drops.truncatedAttributes++;
      }
      tags[k] = value;
      bytes += 2 * k.length + (typeof value === "string" ? 2 * value.length : 8) + 32;
    }
    return { tags, bytes };
  }

  /** Loads what `disk` kept (oldest first, within this store's budgets), then appends every batch taken from now on. */
  persistTo(disk: TraceDisk): void {
    for (const batches of disk.load()) this.add(batches);
    this.disk = disk;
  }

  add(batches: OtlpBatch[]): void {
    this.disk?.append(batches);
    for (const batch of batches) {
      const service = String(batch.resource["service.name"] ?? "unknown_service");
      for (const s of batch.spans) {
        let trace = this.traces.get(s.traceId);
        if (!trace) {
          trace = { spans: [], bytes: 0, seq: this.seq++ };
          this.traces.set(s.traceId, trace);
        }
        if (trace.spans.length >= this.maxSpansPerTrace) {
          this.drops.droppedSpans++;
          continue;
        }
        const operation = s.name.length > MAX_ATTRIBUTE_CHARS ? detached(s.name.slice(0, MAX_ATTRIBUTE_CHARS)) : s.name;
        const { tags, bytes } = this.bounded(s.attributes, operation, service);
        const start = Number(s.startTimeUnixNano / 1000n) / 1000;
        trace.spans.push({
          spanId: s.spanId, parentSpanId: s.parentSpanId, service, operation,
          kind: s.kind === SPAN_KIND.client ? "client" : s.kind === SPAN_KIND.server ? "server" : "internal",
          startTime: start, durationMs: Math.max(0, Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6),
          status: s.statusCode === STATUS_CODE.error || s.attributes.error === true ? "error" : "ok", tags,
        });
        trace.bytes += bytes;
        this.byteCount += bytes;
        this.spanCount++;
      }
    }
    this.evict();
  }

  private evict(): void {
    // Map iteration is insertion order, so the first traces are the oldest to arrive.
    for (const [id, trace] of this.traces) {
      if (this.spanCount <= this.maxSpans && this.byteCount <= this.maxBytes) break;
      this.traces.delete(id);
      this.spanCount -= trace.spans.length;
      this.byteCount -= trace.bytes;
      this.drops.evictedTraces++;
      this.drops.droppedSpans += trace.spans.length;
    }
  }

  get(traceId: string): { traceId: string; spans: StoredSpan[] } | undefined {
    const t = this.traces.get(traceId.toLowerCase());
    return t && { traceId: traceId.toLowerCase(), spans: [...t.spans].sort((a, b) => a.startTime - b.startTime) };
  }

  services(): string[] {
    const out = new Set<string>();
    for (const t of this.traces.values()) for (const s of t.spans) out.add(s.service);
    return [...out].sort();
  }

  operations(service: string): string[] {
    const out = new Set<string>();
    for (const t of this.traces.values()) for (const s of t.spans) if (s.service === service) out.add(s.operation);
    return [...out].sort();
  }

  /** The service's operations with the span kinds they were seen with (Jaeger's /api/operations). */
  operationKinds(service: string): Array<{ operation: string; kind: StoredSpan["kind"] }> {
    const out = new Map<string, { operation: string; kind: StoredSpan["kind"] }>();
    for (const t of this.traces.values()) for (const s of t.spans) if (s.service === service) out.set(`${s.operation}\n${s.kind}`, { operation: s.operation, kind: s.kind });
    return [...out.values()].sort((a, b) => a.operation.localeCompare(b.operation) || a.kind.localeCompare(b.kind));
  }

  search(q: TraceQuery): TraceSummary[] {
    const limit = Math.min(q.limit ?? 20, 1000);
    const out: TraceSummary[] = [];
    const ids = [...this.traces.keys()];
    for (let i = ids.length - 1; i >= 0 && out.length < limit; i--) {
      const summary = summarize(ids[i], this.traces.get(ids[i])!.spans);
      if (matches(summary, this.traces.get(ids[i])!.spans, q)) out.push(summary);
    }
    return out.sort((a, b) => b.startTime - a.startTime);
  }
}

function summarize(traceId: string, spans: StoredSpan[]): TraceSummary {
  const ids = new Set(spans.map((s) => s.spanId));
  let start = Infinity;
  let end = -Infinity;
  let root: StoredSpan | undefined;
  for (const s of spans) {
    start = Math.min(start, s.startTime);
    end = Math.max(end, s.startTime + s.durationMs);
    const isRoot = !s.parentSpanId || !ids.has(s.parentSpanId);
    if (isRoot && (!root || s.startTime < root.startTime)) root = s;
  }
  return {
    traceId, rootService: root?.service ?? "", rootOperation: root?.operation ?? "", startTime: start, durationMs: end - start,
    spanCount: spans.length, errors: spans.filter((s) => s.status === "error").length, services: [...new Set(spans.map((s) => s.service))].sort(),
  };
}

function within(ms: number, q: TraceQuery): boolean {
  return (q.minDurationMs === undefined || ms >= q.minDurationMs) && (q.maxDurationMs === undefined || ms <= q.maxDurationMs);
}

function matches(t: TraceSummary, spans: StoredSpan[], q: TraceQuery): boolean {
  const perSpan = q.durationOf === "span";
  if (!perSpan && !within(t.durationMs, q)) return false;
  if (q.start !== undefined && t.startTime < q.start) return false;
  if (q.end !== undefined && t.startTime > q.end) return false;
  if (q.service && !t.services.includes(q.service)) return false;
  const tags = Object.entries(q.tags ?? {});
  if (!q.operation && tags.length === 0 && !perSpan) return true;
  // Jaeger's rule: the operation and the tags (and, in its API, the duration) must all hold on one span of the service.
  return spans.some((s) => (!q.service || s.service === q.service) && (!q.operation || s.operation === q.operation) && tags.every(([k, v]) => String(s.tags[k]) === v) && (!perSpan || within(s.durationMs, q)));
}
