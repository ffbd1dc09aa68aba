// Structural validation against Istio's CRD schemas: a field tree derived from a current Istio release's CRDs (unknown
// fields, types, enums; see scripts/gen-istio-schema.mjs) plus the CRD validators @kubernetes-models/istio compiles
// (required fields, oneOf, integer formats), whose older enums and types the field tree overrides.
import schemaJson from "./generated/istio-schema.json" with { type: "json" };
import { editDistance } from "../xds/proto-json.js";
import type { Finding } from "./finding.js";
import { finding } from "./finding.js";
import type { LoadedResource } from "./load.js";
import { validatorFor } from "./validators.js";

export interface SchemaNode {
  t: "object" | "array" | "string" | "number" | "boolean" | "any";
  props?: Record<string, SchemaNode>;
  additional?: SchemaNode;
  items?: SchemaNode;
  enum?: string[];
}

const SCHEMAS = schemaJson as unknown as Record<string, SchemaNode>;

/** The releases whose schemas Trellis validates against (`trellis analyze --version` prints them). */
export const SCHEMA_RELEASES = (schemaJson as unknown as { _meta: { istio: string; gatewayApi: string } })._meta;

export function specSchema(apiVersion: string, kind: string): SchemaNode | undefined {
  return SCHEMAS[`${apiVersion}/${kind}`];
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string "${v.length > 40 ? v.slice(0, 37) + "..." : v}"`;
  return `${typeof v} ${String(v)}`;
}

const EXPECT: Record<string, string> = { object: "an object (key: value pairs)", array: "a list", string: "a string", number: "a number", boolean: "true or false" };

function suggest(key: string, options: string[]): string {
  let best = "";
  let score = Infinity;
  for (const o of options) {
    const d = editDistance(key.toLowerCase(), o.toLowerCase());
    if (d < score) {
      score = d;
      best = o;
    }
  }
  return best && score <= Math.max(2, Math.floor(key.length / 3)) ? `; did you mean "${best}"?` : "";
}

type Report = (code: "TRL0010" | "TRL0011" | "TRL0013", path: string, message: string) => void;

function walk(node: SchemaNode, value: unknown, path: string, report: Report): void {
  if (value === null || value === undefined || node.t === "any") return;
  switch (node.t) {
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) return report("TRL0011", path, `${path} must be ${EXPECT.object}, not ${typeOf(value)}`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const child = node.props?.[k] ?? node.additional;
        const childPath = `${path}.${k}`;
        if (!child) {
          const known = Object.keys(node.props ?? {});
          report("TRL0010", childPath, `unknown field "${k}" in ${path}${suggest(k, known)} (known fields: ${known.join(", ") || "none"})`);
          continue;
        }
        walk(child, v, childPath, report);
      }
      return;
    }
    case "array":
      if (!Array.isArray(value)) return report("TRL0011", path, `${path} must be ${EXPECT.array}, not ${typeOf(value)}; write it as a YAML list ("- item")`);
      value.forEach((v, i) => walk(node.items!, v, `${path}[${i}]`, report));
      return;
    case "string":
      if (typeof value !== "string") return report("TRL0011", path, `${path} must be ${EXPECT.string}, not ${typeOf(value)}${typeof value === "number" || typeof value === "boolean" ? "; quote it" : ""}`);
      if (node.enum && !node.enum.includes(value)) report("TRL0013", path, `${path}: "${value}" is not one of ${node.enum.join(", ")}${suggest(value, node.enum)}`);
      return;
    case "number":
      if (typeof value !== "number") return report("TRL0011", path, `${path} must be ${EXPECT.number}, not ${typeOf(value)}${typeof value === "string" && /^\d+$/.test(value) ? "; remove the quotes" : ""}`);
      return;
    case "boolean":
      if (typeof value !== "boolean") return report("TRL0011", path, `${path} must be ${EXPECT.boolean}, not ${typeOf(value)}`);
      return;
  }
}

function ajvPath(instancePath: string): string {
  return instancePath.split("/").slice(1).map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~")).reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
}

function getAt(obj: unknown, instancePath: string): unknown {
  let cur = obj;
  for (const seg of instancePath.split("/").slice(1)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[seg.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return cur;
}

function withoutKey(obj: unknown, instancePath: string, key: string): unknown {
  const copy = structuredClone(obj);
  const target = getAt(copy, instancePath);
  if (target && typeof target === "object") delete (target as Record<string, unknown>)[key];
  return copy;
}

/** Structural findings for one resource: metadata, then the spec against Istio's schema. */
export function validateStructure(resource: LoadedResource): Finding[] {
  const ref = { kind: resource.kind, namespace: resource.metadata.namespace ?? "default", name: resource.metadata.name };
  const out: Finding[] = [];
  const at = (path: string) => (resource.origin ? { file: resource.origin.file, line: resource.origin.lineOf(path) ?? resource.origin.line } : undefined);
  const add = (code: Parameters<typeof finding>[0], path: string, message: string) => out.push(finding(code, message, { resource: ref, path, source: at(path) }));
  const schema = specSchema(resource.apiVersion, resource.kind);
  if (!schema) return out;
  const top = new Set(["apiVersion", "kind", "metadata", "spec", "status"]);
  for (const k of Object.keys(resource)) {
    if (k !== "origin" && !top.has(k)) add("TRL0010", k, `unknown top-level field "${k}"${suggest(k, [...top])}; a resource has apiVersion, kind, metadata and spec`);
  }
  if (resource.spec === undefined || resource.spec === null) {
    add("TRL0012", "spec", `${resource.kind} has no spec; add one (see istio.io/latest/docs/reference/config/)`);
    return out;
  }
  const typeProblems = new Set<string>();
  walk(schema, resource.spec, "spec", (code, path, message) => {
    typeProblems.add(path);
    add(code, path, message);
  });
  const validate = validatorFor(resource.apiVersion, resource.kind);
  const body = { apiVersion: resource.apiVersion, kind: resource.kind, metadata: { name: resource.metadata.name, namespace: resource.metadata.namespace }, spec: resource.spec };
  const errors = validate(body);
  const seenOneOf = new Set<string>();
  for (const e of errors) {
    const path = ajvPath(e.instancePath);
    if (e.keyword === "type" || e.keyword === "enum") continue; // the field tree reported these with better words
    if ([...typeProblems].some((p) => path === p || path.startsWith(p + ".") || path.startsWith(p + "["))) continue;
    if (e.keyword === "required") {
      const missing = String((e.params as { missingProperty?: string }).missingProperty);
      add("TRL0012", path ? `${path}.${missing}` : missing, `${path || "the resource"} is missing the required field "${missing}"`);
    } else if (e.keyword === "oneOf" || e.keyword === "not" || e.keyword === "anyOf") {
      if (seenOneOf.has(path)) continue;
      seenOneOf.add(path);
      const target = getAt(body, e.instancePath);
      const keys = target && typeof target === "object" && !Array.isArray(target) ? Object.keys(target) : [];
      const culprits = keys.filter((k) => !validate(withoutKey(body, e.instancePath, k)).some((x) => x.instancePath === e.instancePath && (x.keyword === "oneOf" || x.keyword === "not")));
      const msg = culprits.length >= 2
        ? `${path}: ${culprits.map((c) => `"${c}"`).join(" and ")} are alternatives; set only one of them`
        : `${path}: set exactly one of this object's alternative fields (now: ${keys.length ? keys.join(", ") : "none"})`;
      add("TRL0019", path, msg);
    } else if (e.keyword === "format" && /int|uint/.test(String((e.params as { format?: string }).format))) {
      add("TRL0020", path, `${path} must be a whole number within ${String((e.params as { format?: string }).format)} range`);
    } else {
      add("TRL0020", path, `${path}: ${e.message ?? "invalid value"}`);
    }
  }
  return out;
}
