// Checks a decoded message against the protoc-gen-validate rules written in Envoy's .proto files (a subset Envoy relies on).
import protobuf from "protobufjs";
import { type FieldError, joinPath } from "./result.js";
import { lookupTypeUrl } from "./proto-json.js";

type Obj = Record<string, unknown>;
const RULE = "(validate.rules).";

function durationSeconds(v: unknown): number | undefined {
  if (!v || typeof v !== "object") return undefined;
  const d = v as { seconds?: number | string; nanos?: number };
  return Number(d.seconds ?? 0) + Number(d.nanos ?? 0) / 1e9;
}

function ruleDuration(opts: Obj, name: string): number | undefined {
  const s = opts[`${RULE}duration.${name}.seconds`];
  const n = opts[`${RULE}duration.${name}.nanos`];
  if (s === undefined && n === undefined) return undefined;
  return Number(s ?? 0) + Number(n ?? 0) / 1e9;
}

const NUMERIC = ["uint32", "uint64", "int32", "int64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "double", "float"];

class Validator {
  readonly errors: FieldError[] = [];

  message(type: protobuf.Type, obj: Obj, path: string): void {
    if (type.fullName === ".google.protobuf.Any") return this.any(obj, path);
    for (const oneof of type.oneofsArray) {
      if (oneof.options?.["(validate.required)"] && !oneof.fieldsArray.some((f) => isSet(obj[f.name]))) {
        this.errors.push({ path, message: `one of ${oneof.fieldsArray.map((f) => `"${f.name}"`).join(", ")} is required` });
      }
    }
    for (const field of type.fieldsArray) {
      field.resolve();
      this.field(field, obj[field.name], joinPath(path, field.name));
    }
  }

  private any(obj: Obj, path: string): void {
    const typeUrl = obj.type_url;
    if (typeof typeUrl !== "string" || !typeUrl) return;
    const inner = lookupTypeUrl(typeUrl);
    if (!inner) {
      this.errors.push({ path, message: `unknown type "${typeUrl}"; Trellis does not support this extension` });
      return;
    }
    const value = obj.value instanceof Uint8Array ? obj.value : new Uint8Array();
    let decoded: Obj;
    try {
      decoded = inner.toObject(inner.decode(value), { defaults: true, arrays: true, objects: true, oneofs: true }) as Obj;
    } catch (err) {
      this.errors.push({ path, message: `cannot decode ${typeUrl}: ${(err as Error).message}` });
      return;
    }
    this.message(inner, decoded, path);
  }

  private field(field: protobuf.Field, value: unknown, path: string): void {
    const opts = (field.options ?? {}) as Obj;
    const set = isSet(value);
    if (!set) {
      // A oneof member's rules apply only when that member is the one chosen.
      if (field.partOf) return;
      if (opts[`${RULE}message.required`] || opts[`${RULE}any.required`] || opts[`${RULE}duration.required`]) {
        this.errors.push({ path, message: `"${field.name}" is required` });
      }
      if (field.repeated && typeof opts[`${RULE}repeated.min_items`] === "number" && (opts[`${RULE}repeated.min_items`] as number) > 0) {
        this.errors.push({ path, message: `"${field.name}" needs at least ${opts[`${RULE}repeated.min_items`]} item(s)` });
      }
      if (!field.repeated && !field.map && field.type === "string" && Number(opts[`${RULE}string.min_len`] ?? 0) > 0) {
        this.errors.push({ path, message: `"${field.name}" must not be empty` });
      }
      return;
    }
    if (field.map) {
      for (const [k, v] of Object.entries(value as Obj)) this.single(field, v, joinPath(path, k), "");
      return;
    }
    if (field.repeated) {
      const list = value as unknown[];
      const min = opts[`${RULE}repeated.min_items`];
      const max = opts[`${RULE}repeated.max_items`];
      if (typeof min === "number" && list.length < min) this.errors.push({ path, message: `"${field.name}" needs at least ${min} item(s)` });
      if (typeof max === "number" && list.length > max) this.errors.push({ path, message: `"${field.name}" allows at most ${max} item(s)` });
      list.forEach((v, i) => this.single(field, v, joinPath(path, i), "repeated.items."));
      return;
    }
    this.single(field, value, path, "");
  }

  private single(field: protobuf.Field, value: unknown, path: string, prefix: string): void {
    const opts = (field.options ?? {}) as Obj;
    const rule = (name: string): unknown => opts[`${RULE}${prefix}${name}`];
    if (field.resolvedType instanceof protobuf.Type) {
      if (value && typeof value === "object") {
        if (field.resolvedType.fullName === ".google.protobuf.Duration") return this.duration(opts, value, path);
        this.message(field.resolvedType, value as Obj, path);
      }
      return;
    }
    if (field.resolvedType instanceof protobuf.Enum) {
      if (rule("enum.defined_only") && typeof value === "number" && !Object.values(field.resolvedType.values).includes(value)) {
        this.errors.push({ path, message: `${value} is not a defined value of ${field.resolvedType.name}` });
      }
      return;
    }
    if (field.type === "string" && typeof value === "string") {
      if (value === "" && rule("string.ignore_empty")) return;
      const min = rule("string.min_len") ?? rule("string.min_bytes");
      const max = rule("string.max_len") ?? rule("string.max_bytes");
      if (typeof min === "number" && value.length < min) this.errors.push({ path, message: min === 1 ? `"${field.name}" must not be empty` : `"${field.name}" must be at least ${min} characters` });
      if (typeof max === "number" && value.length > max) this.errors.push({ path, message: `"${field.name}" must be at most ${max} characters` });
      const pattern = rule("string.pattern");
      if (typeof pattern === "string" && value !== "" && !safeRegex(pattern).test(value)) this.errors.push({ path, message: `"${value}" does not match ${pattern}` });
      return;
    }
    if (NUMERIC.includes(field.type) && (typeof value === "number" || typeof value === "string")) {
      const n = Number(value);
      const kind = field.type === "float" ? "float" : field.type;
      this.bounds(n, (name) => rule(`${kind}.${name}`), path, field.name);
    }
  }

  private duration(opts: Obj, value: object, path: string): void {
    const s = durationSeconds(value);
    if (s === undefined) return;
    const check = (name: string, okFn: (a: number, b: number) => boolean, words: string) => {
      const bound = ruleDuration(opts, name);
      if (bound !== undefined && !okFn(s, bound)) this.errors.push({ path, message: `duration ${s}s must be ${words} ${bound}s` });
    };
    check("gt", (a, b) => a > b, "greater than");
    check("gte", (a, b) => a >= b, "at least");
    check("lt", (a, b) => a < b, "less than");
    check("lte", (a, b) => a <= b, "at most");
  }

  private bounds(n: number, rule: (name: string) => unknown, path: string, name: string): void {
    const gt = rule("gt"), gte = rule("gte"), lt = rule("lt"), lte = rule("lte");
    if (typeof gt === "number" && !(n > gt)) this.errors.push({ path, message: `"${name}" must be greater than ${gt}, got ${n}` });
    if (typeof gte === "number" && !(n >= gte)) this.errors.push({ path, message: `"${name}" must be at least ${gte}, got ${n}` });
    if (typeof lt === "number" && !(n < lt)) this.errors.push({ path, message: `"${name}" must be less than ${lt}, got ${n}` });
    if (typeof lte === "number" && !(n <= lte)) this.errors.push({ path, message: `"${name}" must be at most ${lte}, got ${n}` });
  }
}

const regexCache = new Map<string, RegExp>();
function safeRegex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(pattern, "u");
    } catch {
      re = /[\s\S]*/;
    }
    regexCache.set(pattern, re);
  }
  return re;
}

function isSet(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "string") return v !== "";
  if (typeof v === "object" && !(v instanceof Uint8Array)) return true;
  return true;
}

/** Errors for every violated validate rule in `obj` (a decoded `type`), descending into Any payloads. */
export function validateMessage(type: protobuf.Type, obj: Obj, path = ""): FieldError[] {
  const v = new Validator();
  v.message(type, obj, path);
  return v.errors;
}
