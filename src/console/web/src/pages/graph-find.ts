// Find and Hide on the graph: a subset of Kiali's expressions, on nodes (name, namespace, app, version, workload,
// service, node) or on edges (rps, %httperr, protocol, responsetime), joined by and/or; anything else is refused with
// a message naming what is supported.
import type { GraphEdge, GraphNode } from "../api";

const NODE_FIELDS: Record<string, (n: GraphNode) => string> = {
  name: (n) => n.service ?? n.workload ?? n.app ?? (n.isUnknown ? "unknown" : n.id),
  namespace: (n) => n.namespace, ns: (n) => n.namespace,
  app: (n) => n.app ?? "", version: (n) => n.version ?? "", workload: (n) => n.workload ?? "", service: (n) => n.service ?? "",
  node: (n) => n.nodeType,
};
const EDGE_FIELDS: Record<string, (e: GraphEdge) => string | number> = {
  rps: (e) => e.rps, http: (e) => e.rps, "%httperr": (e) => e.errorRatio * 100, protocol: (e) => e.protocol,
  responsetime: (e) => e.responseTimeMs?.p95 ?? 0, rt: (e) => e.responseTimeMs?.p95 ?? 0,
};
const OPS = ["!=", ">=", "<=", "=", ">", "<"] as const;
type Op = (typeof OPS)[number];

export const FIND_HELP = `Nodes: ${Object.keys(NODE_FIELDS).join(", ")} with = or !=. Edges: ${Object.keys(EDGE_FIELDS).join(", ")} with = != > < >= <=. Join with and / or (and binds tighter), e.g. "name = reviews or %httperr > 10".`;

export type Selector = { on: "node"; test: (n: GraphNode) => boolean } | { on: "edge"; test: (e: GraphEdge) => boolean };
export type ParseResult = { ok: true; selector?: Selector } | { ok: false; error: string };

function compare(actual: string | number, op: Op, want: string): boolean {
  const n = Number(want);
  if (typeof actual === "number" || (op !== "=" && op !== "!=")) {
    const a = Number(actual);
    switch (op) { case "=": return a === n; case "!=": return a !== n; case ">": return a > n; case "<": return a < n; case ">=": return a >= n; case "<=": return a <= n; }
  }
  return op === "=" ? String(actual).toLowerCase() === want.toLowerCase() : String(actual).toLowerCase() !== want.toLowerCase();
}

function term(text: string): { on: "node" | "edge"; test: (x: never) => boolean } | string {
  const t = text.trim();
  const op = OPS.find((o) => t.includes(o));
  if (!op) return `"${t}" is not an expression: use FIELD OP VALUE`;
  const at = t.indexOf(op);
  const field = t.slice(0, at).trim().toLowerCase();
  const value = t.slice(at + op.length).trim().replace(/^["']|["']$/g, "");
  if (!value) return `"${t}": a value is missing after ${op}`;
  if (field in NODE_FIELDS) {
    if (op !== "=" && op !== "!=") return `"${t}": ${field} takes = or !=`;
    return { on: "node", test: ((n: GraphNode) => compare(NODE_FIELDS[field](n), op, value)) as (x: never) => boolean };
  }
  if (field in EDGE_FIELDS) {
    if (field !== "protocol" && !Number.isFinite(Number(value))) return `"${t}": ${field} takes a number`;
    return { on: "edge", test: ((e: GraphEdge) => compare(EDGE_FIELDS[field](e), op, value)) as (x: never) => boolean };
  }
  return `unknown field "${field}": ${FIND_HELP}`;
}

export function parseFind(text: string): ParseResult {
  if (!text.trim()) return { ok: true };
  const ors = text.split(/\s+(?:or|OR|\|\|)\s+/);
  let on: "node" | "edge" | undefined;
  const groups: Array<Array<(x: never) => boolean>> = [];
  for (const part of ors) {
    const group: Array<(x: never) => boolean> = [];
    for (const a of part.split(/\s+(?:and|AND|&&)\s+/)) {
      const r = term(a);
      if (typeof r === "string") return { ok: false, error: r };
      if (on && on !== r.on) return { ok: false, error: "an expression is about nodes or about edges, not both (as in Kiali)" };
      on = r.on;
      group.push(r.test);
    }
    groups.push(group);
  }
  const test = (x: never) => groups.some((g) => g.every((t) => t(x)));
  return { ok: true, selector: on === "node" ? { on, test: test as (n: GraphNode) => boolean } : { on: "edge", test: test as (e: GraphEdge) => boolean } };
}
