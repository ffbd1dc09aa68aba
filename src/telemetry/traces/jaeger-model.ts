// The trace store's traces in Jaeger's UI JSON model (what Jaeger's HTTP query API answers, and what Grafana's Jaeger
// data source and Kiali read): one process per service, spans with CHILD_OF references, microsecond times, typed tags.
import type { AttributeValue } from "../../xds/otlp-trace.js";
import type { StoredSpan } from "./trace-store.js";

export interface JaegerTag {
  key: string;
  type: "string" | "bool" | "int64" | "float64";
  value: string | number | boolean;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  flags: number;
  operationName: string;
  references: Array<{ refType: "CHILD_OF"; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags: JaegerTag[];
  logs: never[];
  processID: string;
  warnings: null;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerTag[] }>;
  warnings: null;
}

/** Jaeger's envelope: every answer is {data, total, limit, offset, errors}. */
export function envelope<T>(data: T, total = Array.isArray(data) ? data.length : 0): { data: T; total: number; limit: number; offset: number; errors: null } {
  return { data, total, limit: 0, offset: 0, errors: null };
}

function tag(key: string, v: AttributeValue): JaegerTag {
  if (typeof v === "boolean") return { key, type: "bool", value: v };
  if (typeof v === "number") return Number.isInteger(v) ? { key, type: "int64", value: v } : { key, type: "float64", value: v };
  return { key, type: "string", value: v };
}

function spanTags(s: StoredSpan): JaegerTag[] {
  const tags = Object.entries(s.tags).map(([k, v]) => tag(k, v));
  // Jaeger shows the OpenTelemetry kind and status as these tags (its OTLP translator writes the same ones).
  if (s.kind !== "internal") tags.push({ key: "span.kind", type: "string", value: s.kind });
  if (s.status === "error" && !("error" in s.tags)) tags.push({ key: "error", type: "bool", value: true });
  return tags;
}

export function jaegerTrace(traceId: string, spans: StoredSpan[]): JaegerTrace {
  const processes: JaegerTrace["processes"] = {};
  const processOf = new Map<string, string>();
  for (const s of spans) {
    if (processOf.has(s.service)) continue;
    const id = `p${processOf.size + 1}`;
    processOf.set(s.service, id);
    processes[id] = { serviceName: s.service, tags: [] };
  }
  return {
    traceID: traceId,
    spans: spans.map((s) => ({
      traceID: traceId, spanID: s.spanId, flags: 1, operationName: s.operation,
      references: s.parentSpanId ? [{ refType: "CHILD_OF", traceID: traceId, spanID: s.parentSpanId }] : [],
      startTime: Math.round(s.startTime * 1000), duration: Math.round(s.durationMs * 1000),
      tags: spanTags(s), logs: [], processID: processOf.get(s.service)!, warnings: null,
    })),
    processes, warnings: null,
  };
}
