// Refuses, by name, every field a config sets that the proxy would not act on: walks a decoded message (and the
// payloads of its Any fields) against the table of honoured fields, so nothing accepted is silently ignored.
import protobuf from "protobufjs";
import { lookupTypeUrl } from "../../xds/proto-json.js";
import { envoyRoot } from "../../xds/proto-root.js";
import { type FieldError, joinPath } from "../../xds/result.js";
import { HONOURED } from "./honoured-fields.js";
import { CONDITIONS, REASONS } from "./field-reasons.js";

type Obj = Record<string, unknown>;

const honoured = new Map<string, Set<string>>();
for (const [type, fields] of Object.entries(HONOURED)) honoured.set(type, new Set(fields.split(" ").filter(Boolean)));

/** The honoured fields of a message type (full name without the leading dot), or undefined when it is not listed. */
export function honouredFields(typeName: string): ReadonlySet<string> | undefined {
  return honoured.get(typeName);
}

/** Whether a field holds something other than its proto3 default, in a message decoded with CANONICAL options. */
export function isFieldSet(type: protobuf.Type, field: protobuf.Field, obj: Obj): boolean {
  if (field.partOf) return obj[field.partOf.name] === field.name;
  const v = obj[field.name];
  if (v === undefined || v === null) return false;
  if (field.map) return Object.keys(v as Obj).length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Uint8Array) return v.length > 0;
  field.resolve();
  if (field.resolvedType instanceof protobuf.Enum) return v !== field.resolvedType.valuesById[0] && v !== 0;
  if (typeof v === "object") return true;
  return v !== 0 && v !== "" && v !== false && v !== "0";
}

class Checker {
  readonly errors: FieldError[] = [];

  message(type: protobuf.Type, obj: Obj, path: string): void {
    const name = type.fullName.slice(1);
    if (name.startsWith("google.protobuf.")) {
      if (name === "google.protobuf.Any") this.any(obj, path);
      return;
    }
    const allowed = honoured.get(name);
    for (const field of type.fieldsArray) {
      if (!isFieldSet(type, field, obj)) continue;
      const at = joinPath(path, field.name);
      const key = `${name}.${field.name}`;
      if (!allowed?.has(field.name)) {
        this.errors.push({ path: at, message: REASONS[key] ?? genericRefusal(type, field, allowed) });
        continue;
      }
      const refusal = CONDITIONS[key]?.(obj[field.name], obj);
      if (refusal) {
        this.errors.push({ path: at, message: refusal });
        continue;
      }
      this.value(field, obj[field.name], at);
    }
  }

  private value(field: protobuf.Field, v: unknown, path: string): void {
    field.resolve();
    const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    if (!sub) return;
    if (field.map) for (const [k, x] of Object.entries(v as Obj)) this.message(sub, x as Obj, joinPath(path, k));
    else if (Array.isArray(v)) v.forEach((x, i) => this.message(sub, x as Obj, joinPath(path, i)));
    else this.message(sub, v as Obj, path);
  }

  /** An Any's payload: its type must be one the proxy implements, and its fields are checked like any message. */
  private any(obj: Obj, path: string): void {
    const url = typeof obj.type_url === "string" ? obj.type_url : "";
    if (!url) return;
    const inner = lookupTypeUrl(url);
    const innerName = inner?.fullName.slice(1) ?? url.slice(url.lastIndexOf("/") + 1);
    if (!inner || !honoured.has(innerName)) {
      this.errors.push({ path, message: REASONS[innerName] ?? `extension ${innerName} is not supported by Trellis here` });
      return;
    }
    let decoded: Obj;
    try {
      decoded = inner.toObject(inner.decode(obj.value instanceof Uint8Array ? obj.value : new Uint8Array()), { longs: Number, enums: String, defaults: true, arrays: true, objects: true, oneofs: true }) as Obj;
    } catch (err) {
      this.errors.push({ path, message: `cannot decode ${url}: ${(err as Error).message}` });
      return;
    }
    this.message(inner, decoded, path);
  }
}

/** The generic refusal; for a oneof member, the members that are supported instead. */
function genericRefusal(type: protobuf.Type, field: protobuf.Field, allowed: ReadonlySet<string> | undefined): string {
  const instead = field.partOf?.fieldsArray.map((f) => f.name).filter((n) => allowed?.has(n)) ?? [];
  if (instead.length === 0) return `${type.name}.${field.name} is not supported by Trellis (the proxy would ignore it); remove it`;
  const list = instead.length === 1 ? `${instead[0]} is` : `${instead.slice(0, -1).join(", ")} and ${instead[instead.length - 1]} are`;
  return `${field.name} is not supported (${list})`;
}

/** Every field set in `obj` (a decoded `typeName`, CANONICAL form) that the proxy does not honour, with its path. */
export function unhonouredFields(typeName: string, obj: unknown, path = ""): FieldError[] {
  const c = new Checker();
  c.message(envoyRoot().lookupType(typeName), obj as Obj, path);
  return c.errors;
}
