// The functions chart templates may call: Go text/template's builtins and the Sprig/Helm functions this chart uses,
// with Go's semantics (empty values, Sprig's argument order for pipelines). Any other name is refused by the parser.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { goJson } from "./go-json.js";

export type Func = (...args: unknown[]) => unknown;

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** A value printed into the output as Go's fmt does; a missing value prints as "" (Helm's rule). */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new Error(`a ${Array.isArray(v) ? "list" : "map"} cannot be printed as it is: pipe it to toYaml or toJson`);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function asMap(v: unknown, what: string): Record<string, unknown> {
  if (!isMap(v)) throw new Error(`${what} must be a map, not ${JSON.stringify(v)}`);
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number") throw new Error(`${what} must be a number, not ${JSON.stringify(v)}`);
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`${what} must be a string, not ${JSON.stringify(v)}`);
  return v;
}

function indent(n: unknown, s: unknown): string {
  const pad = " ".repeat(num(n, "the indent width"));
  return formatValue(s).split("\n").map((l) => pad + l).join("\n");
}

/** Go's fmt verbs the chart uses: %s %d %v %q and %%. */
function printf(format: unknown, ...args: unknown[]): string {
  const f = str(format, "the format");
  const bad = /%([^%sdvq])/.exec(f.replace(/%%/g, ""));
  if (bad) throw new Error(`printf verb %${bad[1]} is not supported (%s, %d, %v, %q are)`);
  let i = 0;
  return f.replace(/%([%sdvq])/g, (_, verb: string) => {
    if (verb === "%") return "%";
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++];
    if (verb === "q") return JSON.stringify(formatValue(a));
    if (verb === "d" && (typeof a !== "number" || !Number.isInteger(a))) return `%!d(${formatValue(a)})`;
    return formatValue(a);
  });
}

/** Go's fmt.Sprint: operands joined, with a space between two operands when neither is a string. */
function print(...args: unknown[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += formatValue(a);
  });
  return out;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`incompatible types for comparison: ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
}

function deepCopy(v: unknown): unknown {
  return v === undefined ? null : structuredClone(v);
}

function toInt(v: unknown): number {
  if (typeof v === "number") return Math.trunc(v);
  if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  if (typeof v === "boolean") return v ? 1 : 0;
  return 0;
}

export const FUNCTIONS: Record<string, Func> = {
  // Go's builtins.
  not: (v) => !truthy(v),
  and: () => undefined, // evaluated lazily by the executor
  or: () => undefined,
  eq: (a, ...rest) => { if (!rest.length) throw new Error("eq needs two arguments"); return rest.some((b) => a === b); },
  ne: (a, b) => a !== b,
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
  len: (v) => (typeof v === "string" || Array.isArray(v) ? v.length : Object.keys(asMap(v, "len's argument")).length),
  index: (coll, ...keys) => keys.reduce<unknown>((c, k) => {
    if (Array.isArray(c)) {
      const i = num(k, "a list index");
      if (i < 0 || i >= c.length) throw new Error(`index out of range: ${i}`);
      return c[i];
    }
    if (c === null || c === undefined) return null;
    return asMap(c, "index's collection")[formatValue(k)];
  }, coll),
  print,
  printf,
  // Sprig and Helm.
  include: () => undefined, // run by the executor, which knows the defined templates
  default: (d, v) => (truthy(v) ? v : d),
  empty: (v) => !truthy(v),
  required: (msg, v) => { if (v === null || v === undefined || v === "") throw new Error(formatValue(msg)); return v; },
  quote: (...args) => args.filter((a) => a !== null && a !== undefined).map((a) => JSON.stringify(formatValue(a))).join(" "),
  indent,
  nindent: (n, s) => `\n${indent(n, s)}`,
  toYaml: (v) => (v === null || v === undefined ? "null" : stringify(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, "")),
  toJson: (v) => goJson(v),
  sha256sum: (s) => createHash("sha256").update(formatValue(s)).digest("hex"),
  int: toInt,
  dict: (...kv) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < kv.length; i += 2) out[formatValue(kv[i])] = kv[i + 1] ?? null;
    return out;
  },
  list: (...items) => items,
  set: (m, k, v) => { asMap(m, "set's map")[formatValue(k)] = v; return m; },
  hasKey: (m, k) => Object.hasOwn(asMap(m, "hasKey's map"), formatValue(k)),
  deepCopy,
  keys: (...maps) => maps.flatMap((m) => Object.keys(asMap(m, "keys' argument"))),
  sortAlpha: (l) => (Array.isArray(l) ? l.map(formatValue).sort() : [formatValue(l)]),
  trimSuffix: (suffix, s) => { const t = formatValue(s); const x = formatValue(suffix); return x && t.endsWith(x) ? t.slice(0, -x.length) : t; },
  trim: (s) => formatValue(s).trim(),
  lower: (s) => formatValue(s).toLowerCase(),
  upper: (s) => formatValue(s).toUpperCase(),
  replace: (from, to, s) => formatValue(s).split(formatValue(from)).join(formatValue(to)),
  toString: (v: unknown) => formatValue(v),
  b64enc: (s) => Buffer.from(formatValue(s)).toString("base64"),
};

export const isKnownFunction = (name: string): boolean => Object.hasOwn(FUNCTIONS, name);
