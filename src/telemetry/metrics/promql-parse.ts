// A parser for the subset of PromQL that Kiali's and Trellis' queries use (docs/telemetry-api.md lists it). What it
// does not support is refused with the position and the construct, never half-understood.
import { parseGoDuration } from "../../api/formats.js";

export type Matcher = { label: string; op: "=" | "!=" | "=~" | "!~"; value: string; re?: RegExp };

export type Node =
  | { type: "number"; value: number }
  | { type: "selector"; name?: string; matchers: Matcher[]; rangeMs?: number }
  | { type: "call"; fn: "rate" | "irate" | "increase" | "histogram_quantile" | "abs" | "round" | "clamp_min"; args: Node[] }
  | { type: "aggregate"; op: "sum" | "max" | "min" | "avg" | "count"; by?: string[]; without?: string[]; expr: Node }
  | { type: "binary"; op: string; lhs: Node; rhs: Node; bool: boolean; on?: string[]; ignoring?: string[] };

export class PromQLError extends Error {}

const AGGREGATES = new Set(["sum", "max", "min", "avg", "count"]);
const FUNCTIONS = new Set(["rate", "irate", "increase", "histogram_quantile", "abs", "round", "clamp_min"]);
// Lowest precedence first.
const LEVELS = [["or"], ["and", "unless"], ["==", "!=", ">", "<", ">=", "<="], ["+", "-"], ["*", "/", "%"]];

type Token = { kind: "ident" | "number" | "string" | "op" | "duration"; text: string; pos: number };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) { i++; continue; }
    const start = i;
    if (c === '"' || c === "'") {
      let v = "";
      i++;
      while (i < q.length && q[i] !== c) {
        if (q[i] === "\\") { i++; v += q[i] === "n" ? "\n" : q[i]; } else v += q[i];
        i++;
      }
      if (i >= q.length) throw new PromQLError(`unterminated string at position ${start + 1}`);
      i++;
      out.push({ kind: "string", text: v, pos: start });
    } else if (c === "[") {
      const end = q.indexOf("]", i);
      if (end < 0) throw new PromQLError(`unclosed [ at position ${start + 1}`);
      out.push({ kind: "duration", text: q.slice(i + 1, end).trim(), pos: start });
      i = end + 1;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+)/i.exec(q.slice(i))!;
      i += m[0].length;
      out.push({ kind: "number", text: m[0], pos: start });
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(q.slice(i))!;
      i += m[0].length;
      out.push({ kind: "ident", text: m[0], pos: start });
    } else {
      const two = q.slice(i, i + 2);
      const op = ["==", "!=", ">=", "<=", "=~", "!~"].includes(two) ? two : c;
      if (op.length === 1 && !"(){},=<>+-*/%".includes(op)) throw new PromQLError(`unexpected "${c}" at position ${start + 1}`);
      i += op.length;
      out.push({ kind: "op", text: op, pos: start });
    }
  }
  return out;
}

export function parsePromQL(query: string): Node {
  const tokens = tokenize(query);
  let p = 0;
  const peek = () => tokens[p];
  const fail = (what: string): never => {
    const t = peek();
    throw new PromQLError(t ? `${what} at position ${t.pos + 1} ("${t.text}")` : `${what} at the end of the query`);
  };
  const expect = (text: string) => {
    if (peek()?.text !== text) fail(`expected "${text}"`);
    p++;
  };
  const labelList = (): string[] => {
    expect("(");
    const out: string[] = [];
    while (peek()?.text !== ")") {
      if (peek()?.kind !== "ident") fail("expected a label name");
      out.push(tokens[p++].text);
      if (peek()?.text === ",") p++;
    }
    p++;
    return out;
  };

  const binary = (level: number): Node => {
    if (level === LEVELS.length) return unary();
    let lhs = binary(level + 1);
    while (peek() && (peek().kind === "op" || peek().kind === "ident") && LEVELS[level].includes(peek().text)) {
      const op = tokens[p++].text;
      if (["and", "or", "unless"].includes(op)) fail(`the set operator "${op}" is not supported`);
      let bool = false;
      let on: string[] | undefined;
      let ignoring: string[] | undefined;
      if (peek()?.text === "bool") { bool = true; p++; }
      if (peek()?.text === "on") { p++; on = labelList(); }
      else if (peek()?.text === "ignoring") { p++; ignoring = labelList(); }
      if (peek()?.text === "group_left" || peek()?.text === "group_right") fail("many-to-one matching is not supported");
      const rhs = binary(level + 1);
      lhs = { type: "binary", op, lhs, rhs, bool, on, ignoring };
    }
    return lhs;
  };

  const unary = (): Node => {
    if (peek()?.text === "-") {
      p++;
      return { type: "binary", op: "*", lhs: { type: "number", value: -1 }, rhs: unary(), bool: false };
    }
    return primary();
  };

  const primary = (): Node => {
    const t = peek();
    if (!t) return fail("expected an expression");
    if (t.kind === "number") { p++; return { type: "number", value: Number(t.text) }; }
    if (t.text === "(") { p++; const e = binary(0); expect(")"); return e; }
    if (t.text === "{") return selector(undefined);
    if (t.kind !== "ident") return fail("expected an expression");
    p++;
    if (AGGREGATES.has(t.text)) {
      let by: string[] | undefined;
      let without: string[] | undefined;
      if (peek()?.text === "by") { p++; by = labelList(); } else if (peek()?.text === "without") { p++; without = labelList(); }
      expect("(");
      const expr = binary(0);
      expect(")");
      if (peek()?.text === "by") { p++; by = labelList(); } else if (peek()?.text === "without") { p++; without = labelList(); }
      return { type: "aggregate", op: t.text as "sum", by, without, expr };
    }
    if (peek()?.text === "(") {
      if (!FUNCTIONS.has(t.text)) { p--; return fail(`the function "${t.text}" is not supported (supported: ${[...FUNCTIONS, ...AGGREGATES].join(", ")})`); }
      p++;
      const args: Node[] = [];
      while (peek()?.text !== ")") {
        args.push(binary(0));
        if (peek()?.text === ",") p++;
        else if (peek()?.text !== ")") fail('expected "," or ")"');
      }
      p++;
      return { type: "call", fn: t.text as "rate", args };
    }
    return selector(t.text);
  };

  const selector = (name: string | undefined): Node => {
    const matchers: Matcher[] = [];
    if (peek()?.text === "{") {
      p++;
      while (peek()?.text !== "}") {
        if (peek()?.kind !== "ident") fail("expected a label name");
        const label = tokens[p++].text;
        const op = peek()?.text;
        if (op !== "=" && op !== "!=" && op !== "=~" && op !== "!~") return fail('expected "=", "!=", "=~" or "!~"');
        p++;
        if (peek()?.kind !== "string") fail("expected a quoted label value");
        const value = tokens[p++].text;
        let re: RegExp | undefined;
        if (op === "=~" || op === "!~") {
          try { re = new RegExp(`^(?:${value})$`); } catch { throw new PromQLError(`label ${label}: "${value}" is not a regular expression`); }
        }
        if (label === "__name__" && op === "=") name = value;
        else matchers.push({ label, op, value, re });
        if (peek()?.text === ",") p++;
        else if (peek()?.text !== "}") fail('expected "," or "}"');
      }
      p++;
    }
    if (!name && matchers.length === 0) fail("a selector needs a metric name or a label matcher");
    let rangeMs: number | undefined;
    if (peek()?.kind === "duration") {
      const text = tokens[p].text;
      rangeMs = parseGoDuration(text.replace(/(\d+)d/, (_m, d: string) => `${Number(d) * 24}h`));
      if (rangeMs === undefined || rangeMs <= 0) fail(`"${text}" is not a range duration`);
      p++;
    }
    if (peek()?.text === "offset") fail("offset is not supported");
    return { type: "selector", name, matchers, rangeMs };
  };

  const node = binary(0);
  if (p < tokens.length) fail("unexpected text after the expression");
  return node;
}
