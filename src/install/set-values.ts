// `--set a.b=c` as Helm parses it (strvals): dotted paths, list indexes (`a[0]=x`), `{x,y}` lists, commas between
// assignments (`\,` for a literal comma), and typed scalars (integers, true/false, null); everything else a string.
import { TemplateError } from "./template-ast.js";

/** Applies one --set argument (possibly several comma-separated assignments) to `values`, in place. */
export function applySet(values: Record<string, unknown>, arg: string): void {
  for (const assignment of splitUnescaped(arg, ",", true)) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new TemplateError("--set", 0, `"${assignment}" must be KEY=VALUE (e.g. replicas=2, meshConfig.accessLogFile=/dev/stdout)`);
    setPath(values, parsePath(assignment.slice(0, eq)), parseValue(assignment.slice(eq + 1)));
  }
}

/** Splits on `sep` outside `{...}`, honouring backslash escapes. */
function splitUnescaped(s: string, sep: string, braces: boolean): string[] {
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\" && i + 1 < s.length) { cur += s[++i]; continue; }
    if (braces && c === "{") depth++;
    if (braces && c === "}") depth--;
    if (c === sep && depth === 0) { out.push(cur); cur = ""; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}

type Step = { key: string } | { index: number };

function parsePath(path: string): Step[] {
  const steps: Step[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new TemplateError("--set", 0, `key "${path}": "${part}" is not a key or key[INDEX]`);
    steps.push({ key: m[1] });
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) steps.push({ index: Number(idx[1]) });
  }
  return steps;
}

function parseValue(raw: string): unknown {
  if (raw.startsWith("{") && raw.endsWith("}")) return raw.length === 2 ? [] : splitUnescaped(raw.slice(1, -1), ",", false).map(parseScalar);
  return parseScalar(raw);
}

function parseScalar(raw: string): unknown {
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  // Helm types integers (not floats: "1.0" stays a string) and keeps leading-zero numbers as strings.
  if (/^-?(0|[1-9]\d*)$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
  return raw;
}

function setPath(values: Record<string, unknown>, steps: Step[], value: unknown): void {
  let cur: unknown = values;
  steps.forEach((step, i) => {
    const last = i === steps.length - 1;
    const next = steps[i + 1];
    const fresh = () => (next && "index" in next ? [] : {});
    if ("key" in step) {
      const m = cur as Record<string, unknown>;
      if (last) { if (value === null) delete m[step.key]; else m[step.key] = value; return; }
      if (m[step.key] === null || typeof m[step.key] !== "object") m[step.key] = fresh();
      cur = m[step.key];
    } else {
      if (!Array.isArray(cur)) throw new TemplateError("--set", 0, `index [${step.index}] on a value that is not a list`);
      while (cur.length <= step.index) cur.push(null);
      if (last) { cur[step.index] = value; return; }
      if (cur[step.index] === null || typeof cur[step.index] !== "object") cur[step.index] = fresh();
      cur = cur[step.index];
    }
  });
}
