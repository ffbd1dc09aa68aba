// Checks values against the chart's values.schema.json (the JSON Schema subset it uses: type, properties,
// additionalProperties, required, enum, pattern, minimum/maximum, minLength, items, $ref to #/definitions), naming
// the field and the fix, as Helm does before it renders. A keyword outside the subset is refused, not skipped.
type Schema = Record<string, unknown>;

const KNOWN = new Set(["$schema", "title", "description", "type", "properties", "additionalProperties", "required", "enum", "pattern", "minimum", "maximum", "minLength", "items", "$ref", "definitions"]);

/** The problems, each naming the field path (empty when the values are valid). */
export function checkValues(values: unknown, schema: Schema): string[] {
  const problems: string[] = [];
  walk(values, schema, schema, "", problems);
  return problems;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function resolve(node: Schema, root: Schema): Schema {
  const ref = node.$ref;
  if (typeof ref !== "string") return node;
  const m = /^#\/definitions\/(.+)$/.exec(ref);
  const target = m ? (root.definitions as Record<string, Schema> | undefined)?.[m[1]] : undefined;
  if (!target) throw new Error(`values.schema.json: $ref ${ref} is not a #/definitions/NAME this checker resolves`);
  return resolve(target, root);
}

function walk(v: unknown, node: Schema, root: Schema, path: string, problems: string[]): void {
  node = resolve(node, root);
  for (const k of Object.keys(node)) if (!KNOWN.has(k)) throw new Error(`values.schema.json: keyword ${k} (at ${path || "the top"}) is not supported by trellis' schema check`);
  const where = path || "(values)";
  const types = node.type === undefined ? undefined : ([] as string[]).concat(node.type as string);
  const actual = typeOf(v);
  if (types && !types.some((t) => t === actual || (t === "number" && actual === "integer"))) {
    problems.push(`${where}: must be ${types.join(" or ")}, got ${actual}${actual === "string" ? ` "${v as string}"` : ""}`);
    return;
  }
  if (Array.isArray(node.enum) && !node.enum.includes(v)) problems.push(`${where}: must be one of ${node.enum.map((e) => JSON.stringify(e)).join(", ")}, got ${JSON.stringify(v)}`);
  if (typeof v === "string") {
    if (typeof node.pattern === "string" && !new RegExp(node.pattern, "u").test(v)) problems.push(`${where}: "${v}" does not match ${node.pattern}`);
    if (typeof node.minLength === "number" && v.length < node.minLength) problems.push(`${where}: must not be empty`);
  }
  if (typeof v === "number") {
    if (typeof node.minimum === "number" && v < node.minimum) problems.push(`${where}: must be at least ${node.minimum}, got ${v}`);
    if (typeof node.maximum === "number" && v > node.maximum) problems.push(`${where}: must be at most ${node.maximum}, got ${v}`);
  }
  if (Array.isArray(v) && node.items) v.forEach((item, i) => walk(item, node.items as Schema, root, `${path}[${i}]`, problems));
  if (actual === "object") objectRules(v as Record<string, unknown>, node, root, path, problems);
}

function objectRules(v: Record<string, unknown>, node: Schema, root: Schema, path: string, problems: string[]): void {
  const props = (node.properties ?? {}) as Record<string, Schema>;
  for (const r of (node.required ?? []) as string[]) if (!(r in v)) problems.push(`${path ? `${path}.` : ""}${r}: is required`);
  for (const [k, child] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k;
    if (props[k]) walk(child, props[k], root, p, problems);
    else if (node.additionalProperties === false) problems.push(`${p}: is not a value this chart takes (known here: ${Object.keys(props).join(", ")})`);
    else if (node.additionalProperties && typeof node.additionalProperties === "object") walk(child, node.additionalProperties as Schema, root, p, problems);
  }
}
