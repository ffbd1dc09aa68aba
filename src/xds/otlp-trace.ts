// OTLP trace export messages (opentelemetry/proto/collector/trace/v1), the other wire format proxy and control share:
// proxies encode span batches, the control plane's intake decodes them. Only the fields Trellis writes or reads are
// declared; protobuf skips the rest on decode, so batches from any OpenTelemetry SDK or collector are accepted.
import protobuf from "protobufjs";

const schema = {
  nested: {
    otlp: {
      nested: {
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: "repeated", type: "ResourceSpans", id: 1 } } },
        ResourceSpans: { fields: { resource: { type: "Resource", id: 1 }, scopeSpans: { rule: "repeated", type: "ScopeSpans", id: 2 } } },
        Resource: { fields: { attributes: { rule: "repeated", type: "KeyValue", id: 1 } } },
        ScopeSpans: { fields: { scope: { type: "InstrumentationScope", id: 1 }, spans: { rule: "repeated", type: "Span", id: 2 } } },
        InstrumentationScope: { fields: { name: { type: "string", id: 1 }, version: { type: "string", id: 2 } } },
        Span: {
          fields: {
            traceId: { type: "bytes", id: 1 }, spanId: { type: "bytes", id: 2 }, traceState: { type: "string", id: 3 },
            parentSpanId: { type: "bytes", id: 4 }, name: { type: "string", id: 5 }, kind: { type: "int32", id: 6 },
            startTimeUnixNano: { type: "fixed64", id: 7 }, endTimeUnixNano: { type: "fixed64", id: 8 },
            attributes: { rule: "repeated", type: "KeyValue", id: 9 }, status: { type: "Status", id: 15 },
          },
        },
        Status: { fields: { message: { type: "string", id: 2 }, code: { type: "int32", id: 3 } } },
        KeyValue: { fields: { key: { type: "string", id: 1 }, value: { type: "AnyValue", id: 2 } } },
        AnyValue: {
          oneofs: { value: { oneof: ["stringValue", "boolValue", "intValue", "doubleValue"] } },
          fields: { stringValue: { type: "string", id: 1 }, boolValue: { type: "bool", id: 2 }, intValue: { type: "int64", id: 3 }, doubleValue: { type: "double", id: 4 } },
        },
      },
    },
  },
};

const Request = protobuf.Root.fromJSON(schema).lookupType("otlp.ExportTraceServiceRequest");

/** OTLP span kinds Trellis uses (SpanKind in trace.proto). */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
/** Status codes (Status.StatusCode). */
export const STATUS_CODE = { unset: 0, ok: 1, error: 2 } as const;

export type AttributeValue = string | number | boolean;

export interface OtlpSpan {
  traceId: string; // 32 hex digits
  spanId: string; // 16 hex digits
  parentSpanId: string; // "" for a root span
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  statusCode: number;
  traceState?: string;
}

export interface OtlpBatch {
  /** Resource attributes (service.name first of all). */
  resource: Record<string, AttributeValue>;
  spans: OtlpSpan[];
}

// Field tags (field number << 3 | wire type) of the OTLP messages written below.
const LEN = 2;
const tag = (field: number, wire: number) => (field << 3) | wire;

function writeAnyValue(w: protobuf.Writer, v: AttributeValue): void {
  if (typeof v === "string") w.uint32(tag(1, LEN)).string(v);
  else if (typeof v === "boolean") w.uint32(tag(2, 0)).bool(v);
  else if (Number.isInteger(v)) w.uint32(tag(3, 0)).int64(v);
  else w.uint32(tag(4, 1)).double(v);
}

function writeAttributes(w: protobuf.Writer, field: number, attrs: Record<string, AttributeValue>): void {
  for (const key in attrs) {
    w.uint32(tag(field, LEN)).fork();
    w.uint32(tag(1, LEN)).string(key);
    w.uint32(tag(2, LEN)).fork();
    writeAnyValue(w, attrs[key]);
    w.ldelim();
    w.ldelim();
  }
}

/** fixed64 from a bigint: eight bytes, little-endian, as two 32-bit halves. */
function writeFixed64(w: protobuf.Writer, field: number, v: bigint): void {
  w.uint32(tag(field, 1)).fixed32(Number(v & 0xffffffffn)).fixed32(Number((v >> 32n) & 0xffffffffn));
}

/**
 * Encodes spans as an ExportTraceServiceRequest, written field by field: building protobufjs objects first
 * (fromObject) cost a sidecar ~20 ms per 512-span batch, a stall every request queued behind it would feel.
 */
export function encodeTraceRequest(batches: OtlpBatch[], scopeName: string): Uint8Array {
  const w = protobuf.Writer.create();
  for (const b of batches) {
    w.uint32(tag(1, LEN)).fork(); // resourceSpans
    w.uint32(tag(1, LEN)).fork(); // resource
    writeAttributes(w, 1, b.resource);
    w.ldelim();
    w.uint32(tag(2, LEN)).fork(); // scopeSpans
    w.uint32(tag(1, LEN)).fork().uint32(tag(1, LEN)).string(scopeName).ldelim(); // scope
    for (const s of b.spans) {
      w.uint32(tag(2, LEN)).fork(); // span
      w.uint32(tag(1, LEN)).bytes(Buffer.from(s.traceId, "hex"));
      w.uint32(tag(2, LEN)).bytes(Buffer.from(s.spanId, "hex"));
      if (s.traceState) w.uint32(tag(3, LEN)).string(s.traceState);
      if (s.parentSpanId) w.uint32(tag(4, LEN)).bytes(Buffer.from(s.parentSpanId, "hex"));
      w.uint32(tag(5, LEN)).string(s.name);
      w.uint32(tag(6, 0)).int32(s.kind);
      writeFixed64(w, 7, s.startTimeUnixNano);
      writeFixed64(w, 8, s.endTimeUnixNano);
      writeAttributes(w, 9, s.attributes);
      w.uint32(tag(15, LEN)).fork();
      if (s.statusCode) w.uint32(tag(3, 0)).int32(s.statusCode);
      w.ldelim();
      w.ldelim();
    }
    w.ldelim();
    w.ldelim();
  }
  return w.finish();
}

const VALUE_KINDS = ["stringValue", "boolValue", "intValue", "doubleValue"] as const;

interface DecodedValue { value?: string; stringValue?: string; boolValue?: boolean; intValue?: { toString(): string } | number; doubleValue?: number }

function attributesOf(list: Array<{ key: string; value?: DecodedValue }> | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) {
    const v = kv.value;
    if (!v) continue;
    // Decoded protobuf carries every field's default, so the oneof's name says which one was sent; OTLP/JSON has
    // only the one it sent.
    switch (v.value ?? VALUE_KINDS.find((k) => k in v)) {
      case "stringValue": out[kv.key] = v.stringValue ?? ""; break;
      case "boolValue": out[kv.key] = v.boolValue ?? false; break;
      case "intValue": out[kv.key] = Number((v.intValue ?? 0).toString()); break;
      case "doubleValue": out[kv.key] = v.doubleValue ?? 0; break;
    }
  }
  return out;
}

// An absent bytes field decodes as an empty array, not a Uint8Array.
const hex = (b: Uint8Array | undefined) => (b && b.length > 0 ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex") : "");

interface DecodedSpan {
  traceId?: Uint8Array; spanId?: Uint8Array; parentSpanId?: Uint8Array; traceState?: string; name?: string; kind?: number;
  startTimeUnixNano?: { toString(): string }; endTimeUnixNano?: { toString(): string };
  attributes?: Array<{ key: string; value?: DecodedValue }>; status?: { code?: number };
}

/** Decodes an OTLP/HTTP protobuf body; throws with the reason when it is not one. */
export function decodeTraceRequest(body: Uint8Array): OtlpBatch[] {
  const msg = Request.decode(body) as unknown as { resourceSpans?: Array<{ resource?: { attributes?: Array<{ key: string; value?: DecodedValue }> }; scopeSpans?: Array<{ spans?: DecodedSpan[] }> }> };
  return (msg.resourceSpans ?? []).map((rs) => ({
    resource: attributesOf(rs.resource?.attributes),
    spans: (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []).map((s) => spanOf(s)),
  }));
}

function spanOf(s: DecodedSpan): OtlpSpan {
  const traceId = hex(s.traceId);
  const spanId = hex(s.spanId);
  if (traceId.length !== 32 || /^0+$/.test(traceId)) throw new Error(`span "${s.name ?? ""}": traceId must be 16 bytes, not all zero`);
  if (spanId.length !== 16 || /^0+$/.test(spanId)) throw new Error(`span "${s.name ?? ""}": spanId must be 8 bytes, not all zero`);
  return {
    traceId, spanId, parentSpanId: hex(s.parentSpanId), name: s.name ?? "", kind: s.kind ?? 0, traceState: s.traceState || undefined,
    startTimeUnixNano: BigInt(s.startTimeUnixNano?.toString() ?? "0"), endTimeUnixNano: BigInt(s.endTimeUnixNano?.toString() ?? "0"),
    attributes: attributesOf(s.attributes), statusCode: s.status?.code ?? 0,
  };
}

interface JsonValue { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number }
interface JsonSpan {
  traceId?: string; spanId?: string; parentSpanId?: string; traceState?: string; name?: string; kind?: number;
  startTimeUnixNano?: string | number; endTimeUnixNano?: string | number; attributes?: Array<{ key: string; value?: JsonValue }>; status?: { code?: number };
}

/** Decodes an OTLP/HTTP JSON body (ids in hex, as the OTLP JSON mapping writes them); throws with the reason. */
export function decodeTraceJson(body: unknown): OtlpBatch[] {
  const msg = body as { resourceSpans?: Array<{ resource?: { attributes?: Array<{ key: string; value?: JsonValue }> }; scopeSpans?: Array<{ spans?: JsonSpan[] }> }> };
  if (typeof msg !== "object" || msg === null || (msg.resourceSpans !== undefined && !Array.isArray(msg.resourceSpans))) throw new Error("resourceSpans must be an array");
  const bytes = (h: string | undefined) => (h ? Buffer.from(h, "hex") : undefined);
  return (msg.resourceSpans ?? []).map((rs) => ({
    resource: attributesOf(rs.resource?.attributes),
    spans: (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []).map((s) => spanOf({
      ...s, traceId: bytes(s.traceId), spanId: bytes(s.spanId), parentSpanId: bytes(s.parentSpanId),
      startTimeUnixNano: String(s.startTimeUnixNano ?? "0"), endTimeUnixNano: String(s.endTimeUnixNano ?? "0"),
    })),
  }));
}
