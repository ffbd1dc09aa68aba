// The embedded trace store: spans grouped by trace, bounded by a span budget (the oldest traces go first), searched
// as Jaeger's UI searches (service, operation, duration, tags, time). No server to install; a real collector can
// take the same OTLP instead.
import { SPAN_KIND, STATUS_CODE, type AttributeValue, type OtlpBatch } from "../../xds/otlp-trace.js";

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
}

interface Trace {
  spans: StoredSpan[];
  /** Arrival order, for eviction. */
  seq: number;
}

export class TraceStore {
  private readonly traces = new Map<string, Trace>();
  private spanCount = 0;
  private seq = 0;

  constructor(private readonly maxSpans = 100_000, private readonly maxSpansPerTrace = 1000) {}

  get size(): { traces: number; spans: number } {
    return { traces: this.traces.size, spans: this.spanCount };
  }

  add(batches: OtlpBatch[]): void {
    for (const batch of batches) {
      const service = String(batch.resource["service.name"] ?? "unknown_service");
      for (const s of batch.spans) {
        let trace = this.traces.get(s.traceId);
        if (!trace) {
          trace = { spans: [], seq: this.seq++ };
          this.traces.set(s.traceId, trace);
        }
        if (trace.spans.length >= this.maxSpansPerTrace) continue;
        const start = Number(s.startTimeUnixNano / 1000n) / 1000;
        trace.spans.push({
          spanId: s.spanId, parentSpanId: s.parentSpanId, service, operation: s.name,
          kind: s.kind === SPAN_KIND.client ? "client" : s.kind === SPAN_KIND.server ? "server" : "internal",
          startTime: start, durationMs: Math.max(0, Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6),
          status: s.statusCode === STATUS_CODE.error || s.attributes.error === true ? "error" : "ok", tags: s.attributes,
        });
        this.spanCount++;
      }
    }
    this.evict();
  }

  private evict(): void {
    // Map iteration is insertion order, so the first traces are the oldest to arrive.
    for (const [id, trace] of this.traces) {
      if (this.spanCount <= this.maxSpans) break;
      this.traces.delete(id);
      this.spanCount -= trace.spans.length;
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

function matches(t: TraceSummary, spans: StoredSpan[], q: TraceQuery): boolean {
  if (q.minDurationMs !== undefined && t.durationMs < q.minDurationMs) return false;
  if (q.maxDurationMs !== undefined && t.durationMs > q.maxDurationMs) return false;
  if (q.start !== undefined && t.startTime < q.start) return false;
  if (q.end !== undefined && t.startTime > q.end) return false;
  if (q.service && !t.services.includes(q.service)) return false;
  const tags = Object.entries(q.tags ?? {});
  if (!q.operation && tags.length === 0) return true;
  // Jaeger's rule: the operation and the tags must all hold on one span of the service.
  return spans.some((s) => (!q.service || s.service === q.service) && (!q.operation || s.operation === q.operation) && tags.every(([k, v]) => String(s.tags[k]) === v));
}
