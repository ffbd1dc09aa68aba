// Reads proto3 JSON (Envoy's YAML/JSON config syntax) into protobufjs message objects, naming the field of every error.
import protobuf from "protobufjs";
import { envoyRoot } from "./proto-root.js";
import { type FieldError, joinPath } from "./result.js";

type Json = unknown;
type Obj = Record<string, unknown>;

const WRAPPERS = new Set([
  ".google.protobuf.DoubleValue", ".google.protobuf.FloatValue", ".google.protobuf.Int64Value", ".google.protobuf.UInt64Value",
  ".google.protobuf.Int32Value", ".google.protobuf.UInt32Value", ".google.protobuf.BoolValue", ".google.protobuf.StringValue",
  ".google.protobuf.BytesValue",
]);

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

function isObject(v: Json): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses "1.5s" (proto3 JSON) into seconds and nanos. */
export function parseDurationJson(text: string): { seconds: number; nanos: number } | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  const sign = m[1] ? -1 : 1;
  const nanos = m[3] ? Number(m[3].padEnd(9, "0")) : 0;
  return { seconds: sign * Number(m[2]), nanos: sign * nanos };
}

function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

class JsonReader {
  readonly errors: FieldError[] = [];

  error(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  message(type: protobuf.Type, json: Json, path: string): Obj | undefined {
    const special = this.wellKnown(type, json, path);
    if (special !== null) return special;
    if (!isObject(json)) return this.error(path, `expected an object for ${type.name}, got ${describe(json)}`);
    const out: Obj = {};
    const seenOneofs = new Map<string, string>();
    for (const [key, value] of Object.entries(json)) {
      const field = type.fields[key] ?? type.fieldsArray.find((f) => f.options?.json_name === key || camel(f.name) === key);
      const fieldPath = joinPath(path, key);
      if (!field) {
        const hint = closest(key, type.fieldsArray.map((f) => f.name));
        this.error(fieldPath, `unknown field "${key}" in ${type.fullName.slice(1)}${hint ? `; did you mean "${hint}"?` : ""}`);
        continue;
      }
      if (value === null) continue;
      if (field.partOf) {
        const other = seenOneofs.get(field.partOf.name);
        if (other) this.error(fieldPath, `"${field.name}" and "${other}" are alternatives (oneof ${field.partOf.name}); set only one`);
        seenOneofs.set(field.partOf.name, field.name);
      }
      const converted = this.field(field, value, fieldPath);
      if (converted !== undefined) out[field.name] = converted;
    }
    return out;
  }

  private field(field: protobuf.Field, value: Json, path: string): unknown {
    field.resolve();
    if (field.map) {
      if (!isObject(value)) return this.error(path, `expected a map (object), got ${describe(value)}`);
      const out: Obj = {};
      for (const [k, v] of Object.entries(value)) {
        const converted = this.single(field, v, joinPath(path, k));
        if (converted !== undefined) out[k] = converted;
      }
      return out;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) return this.error(path, `expected a list, got ${describe(value)}`);
      const out: unknown[] = [];
      value.forEach((v, i) => {
        const converted = this.single(field, v, joinPath(path, i));
        if (converted !== undefined) out.push(converted);
      });
      return out;
    }
    return this.single(field, value, path);
  }

  private single(field: protobuf.Field, value: Json, path: string): unknown {
    if (field.resolvedType instanceof protobuf.Type) return this.message(field.resolvedType, value, path);
    if (field.resolvedType instanceof protobuf.Enum) return this.enumValue(field.resolvedType, value, path);
    return this.scalar(field.type, value, path);
  }

  private enumValue(en: protobuf.Enum, value: Json, path: string): unknown {
    if (typeof value === "number" && Number.isInteger(value)) return value;
    if (typeof value === "string" && value in en.values) return en.values[value];
    // Envoy parses its JSON and YAML with protobuf's case_insensitive_enum_parsing: `codec_type: auto` is AUTO.
    const folded = typeof value === "string" ? Object.keys(en.values).find((n) => n.toLowerCase() === value.toLowerCase()) : undefined;
    if (folded) return en.values[folded];
    const names = Object.keys(en.values);
    const hint = typeof value === "string" ? closest(value, names) : undefined;
    return this.error(path, `"${String(value)}" is not a value of ${en.name}; use one of ${names.join(", ")}${hint ? ` (did you mean "${hint}"?)` : ""}`);
  }

  private scalar(type: string, value: Json, path: string): unknown {
    switch (type) {
      case "string":
        if (typeof value === "string") return value;
        return this.error(path, `expected a string, got ${describe(value)}`);
      case "bool":
        if (typeof value === "boolean") return value;
        return this.error(path, `expected true or false, got ${describe(value)}`);
      case "bytes":
        if (typeof value === "string" && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return Buffer.from(value, "base64");
        return this.error(path, `expected base64 bytes, got ${describe(value)}`);
      case "double":
      case "float": {
        if (typeof value === "number") return value;
        if (value === "NaN" || value === "Infinity" || value === "-Infinity") return Number(value);
        if (typeof value === "string" && value.trim() !== "" && !isNaN(Number(value))) return Number(value);
        return this.error(path, `expected a number, got ${describe(value)}`);
      }
      default: {
        const unsigned = type.startsWith("uint") || type.startsWith("fixed");
        const bits = type.endsWith("64") ? 64 : 32;
        const n = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : NaN;
        if (!Number.isInteger(n)) return this.error(path, `expected an integer, got ${describe(value)}`);
        if (unsigned && n < 0) return this.error(path, `expected a non-negative integer, got ${n}`);
        if (bits === 32 && (unsigned ? n > 0xffffffff : n > 0x7fffffff || n < -0x80000000)) return this.error(path, `${n} is out of range for ${type}`);
        return bits === 64 && typeof value === "string" ? value : n;
      }
    }
  }

  /** Well-known types with their own JSON form; null when `type` is an ordinary message. */
  private wellKnown(type: protobuf.Type, json: Json, path: string): Obj | undefined | null {
    const name = type.fullName;
    if (WRAPPERS.has(name)) {
      const value = this.scalar(type.fields.value.type, isObject(json) && "value" in json ? json.value : json, path);
      return value === undefined ? undefined : { value };
    }
    switch (name) {
      case ".google.protobuf.Duration": {
        if (isObject(json) && ("seconds" in json || "nanos" in json)) return { seconds: Number(json.seconds ?? 0), nanos: Number(json.nanos ?? 0) };
        const d = typeof json === "string" ? parseDurationJson(json) : undefined;
        if (!d) return this.error(path, `expected a duration such as "5s" or "0.250s", got ${describe(json)}`);
        return d;
      }
      case ".google.protobuf.Timestamp": {
        const ms = typeof json === "string" ? Date.parse(json) : NaN;
        if (isNaN(ms)) return this.error(path, `expected an RFC 3339 timestamp, got ${describe(json)}`);
        return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
      }
      case ".google.protobuf.Struct":
        if (!isObject(json)) return this.error(path, `expected an object, got ${describe(json)}`);
        return structFromJson(json);
      case ".google.protobuf.Value":
        return valueFromJson(json);
      case ".google.protobuf.ListValue":
        if (!Array.isArray(json)) return this.error(path, `expected a list, got ${describe(json)}`);
        return { values: json.map(valueFromJson) };
      case ".google.protobuf.Empty":
        return {};
      case ".google.protobuf.Any":
        return this.any(json, path);
      default:
        return null;
    }
  }

  private any(json: Json, path: string): Obj | undefined {
    if (!isObject(json)) return this.error(path, `expected an object with "@type", got ${describe(json)}`);
    if ("type_url" in json && "value" in json && !("@type" in json)) return json;
    const typeUrl = json["@type"];
    if (typeof typeUrl !== "string") return this.error(joinPath(path, "@type"), `missing "@type" naming the message, e.g. "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"`);
    const inner = lookupTypeUrl(typeUrl);
    if (!inner) return this.error(joinPath(path, "@type"), `unknown type "${typeUrl}"; Trellis does not support this extension`);
    const rest: Obj = { ...json };
    delete rest["@type"];
    const body = inner.fullName.startsWith(".google.protobuf.") && "value" in rest && Object.keys(rest).length === 1 ? rest.value : rest;
    const obj = this.message(inner, body, path);
    if (obj === undefined) return undefined;
    const value = inner.encode(inner.fromObject(obj)).finish();
    return { type_url: typeUrl, value };
  }
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function describe(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `"${v.length > 60 ? v.slice(0, 57) + "..." : v}"`;
  return `${typeof v} ${String(v)}`;
}

function valueFromJson(v: Json): Obj {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(valueFromJson) } };
  return { structValue: structFromJson(v as Obj) };
}

function structFromJson(o: Obj): Obj {
  const fields: Obj = {};
  for (const [k, v] of Object.entries(o)) fields[k] = valueFromJson(v);
  return { fields };
}

/** The message type a type URL names (`type.googleapis.com/envoy.config.cluster.v3.Cluster`), or undefined. */
export function lookupTypeUrl(typeUrl: string): protobuf.Type | undefined {
  const name = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
  try {
    return envoyRoot().lookupType(name);
  } catch {
    return undefined;
  }
}

/** Converts proto3 JSON into a protobufjs message of `type`, or the errors found, each naming its field path. */
export function messageFromJson(type: protobuf.Type, json: Json, path = ""): { message?: protobuf.Message; errors: FieldError[] } {
  const reader = new JsonReader();
  const obj = reader.message(type, json, path);
  if (obj === undefined || reader.errors.length > 0) return { errors: reader.errors };
  return { message: type.fromObject(obj), errors: [] };
}
