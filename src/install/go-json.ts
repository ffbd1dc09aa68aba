// JSON as Go's encoding/json writes it (what Helm's toJson gives): map keys sorted, no spaces, and <, >, &, U+2028,
// U+2029 escaped, so a checksum of it matches the one `helm template` computes.
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return escape(JSON.stringify(v));
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
    // Go writes floats of magnitude >= 1e21 or < 1e-6 with an exponent, as JavaScript does, but pads it to 2 digits.
    return String(v).replace(/e([+-])(\d)$/, "e$10$2");
  }
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(goJson).join(",")}]`;
  const m = v as Record<string, unknown>;
  return `{${Object.keys(m).sort().map((k) => `${escape(JSON.stringify(k))}:${goJson(m[k])}`).join(",")}}`;
}

function escape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
