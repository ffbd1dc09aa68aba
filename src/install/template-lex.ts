// Splits a Go template into text and actions ({{ }}), honouring trim markers ({{- and -}}) and comments, and
// tokenises an action's inside: the first step of template-parse.ts.
import { TemplateError } from "./template-ast.js";

export type Piece = { t: "text"; text: string } | { t: "action"; src: string; line: number };

/** Text and action pieces, trim markers applied to the neighbouring text, comments dropped. */
export function splitActions(file: string, src: string): Piece[] {
  const out: Piece[] = [];
  let pos = 0;
  let line = 1;
  let trimNext = false;
  while (pos < src.length) {
    const open = src.indexOf("{{", pos);
    let text = src.slice(pos, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (open < 0) { out.push({ t: "text", text }); break; }
    const trimBefore = /^\{\{- /.test(src.slice(open, open + 4)) || src.slice(open, open + 4) === "{{-\n";
    if (trimBefore) text = text.replace(/\s+$/, "");
    if (text) out.push({ t: "text", text });
    line += countLines(src.slice(pos, open));
    const start = open + (trimBefore ? 3 : 2);
    const close = findClose(src, start);
    if (close < 0) throw new TemplateError(file, line, "unclosed action: {{ without }}");
    const trimAfter = src[close - 1] === "-" && /\s/.test(src[close - 2] ?? "");
    const inner = src.slice(start, trimAfter ? close - 1 : close).trim();
    if (!(inner.startsWith("/*") && inner.endsWith("*/"))) out.push({ t: "action", src: inner, line });
    line += countLines(src.slice(open, close + 2));
    pos = close + 2;
    trimNext = trimAfter;
  }
  return out;
}

function countLines(s: string): number {
  let n = 0;
  for (const c of s) if (c === "\n") n++;
  return n;
}

/** The `}}` closing an action, skipping strings and comments inside it. */
function findClose(src: string, from: number): number {
  let i = from;
  while (i < src.length) {
    const c = src[i];
    if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) return -1;
      i = end + 2;
    } else if (c === '"' || c === "`") {
      i = skipString(src, i);
      if (i < 0) return -1;
    } else if (src.startsWith("}}", i)) return i;
    else i++;
  }
  return -1;
}

function skipString(src: string, i: number): number {
  const quote = src[i];
  for (let j = i + 1; j < src.length; j++) {
    if (quote === '"' && src[j] === "\\") { j++; continue; }
    if (src[j] === quote) return j + 1;
    if (quote === '"' && src[j] === "\n") return -1;
  }
  return -1;
}

export type Token =
  | { t: "str"; value: string } | { t: "num"; value: number } | { t: "word"; value: string }
  | { t: "var"; value: string } | { t: "field"; value: string } | { t: "punct"; value: "(" | ")" | "|" | ":=" | "=" | "," };

/** Tokens of an action's inside: strings, numbers, words (keywords, functions, true/false/nil), $vars, .fields. */
export function tokenize(file: string, line: number, src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (msg: string): never => { throw new TemplateError(file, line, msg); };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === "`") {
      const end = skipString(src, i);
      if (end < 0) fail(`unterminated string in {{ ${src} }}`);
      const raw = src.slice(i, end);
      out.push({ t: "str", value: c === "`" ? raw.slice(1, -1) : JSON.parse(raw.replace(/\\'/g, "'")) as string });
      i = end;
      continue;
    }
    if (src.startsWith(":=", i)) { out.push({ t: "punct", value: ":=" }); i += 2; continue; }
    if (c === ")" && src[i + 1] === ".") fail(`a field of a parenthesised pipeline ("${src.slice(i)}") is not supported: assign the pipeline to a variable first`);
    if ("()|=,".includes(c)) { out.push({ t: "punct", value: c as "(" }); i++; continue; }
    const m = /^(\$[A-Za-z0-9_]*|(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(i));
    if (!m) fail(`unexpected "${c}" in {{ ${src} }}`);
    const w = m![1];
    if (w.startsWith("$")) {
      // `$x.a.b`: a variable with a field chain.
      const rest = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+/.exec(src.slice(i + w.length));
      out.push({ t: "var", value: w });
      if (rest) { out.push({ t: "field", value: rest[0] }); i += rest[0].length; }
    } else if (w.startsWith(".")) out.push({ t: "field", value: w });
    else if (/^-?\d/.test(w)) out.push({ t: "num", value: Number(w) });
    else out.push({ t: "word", value: w });
    i += w.length;
  }
  return out;
}
