// Runs parsed chart templates as Go's text/template does (with Helm's additions: include, missing values print as
// ""): dot and $ scoping, variables, pipelines, if/with/range truthiness, range over lists and maps (sorted keys).
import { type Node, type Operand, type ParsedFile, type Pipeline, TemplateError } from "./template-ast.js";
import { type Func, FUNCTIONS, formatValue, truthy } from "./template-functions.js";

const MAX_INCLUDE_DEPTH = 100;

interface Scope {
  dot: unknown;
  vars: Map<string, unknown>[];
}

/** A set of parsed files sharing their `define`d templates, as Helm renders one chart. */
export class TemplateSet {
  private readonly defines = new Map<string, { file: string; body: Node[] }>();
  private depth = 0;

  constructor(private readonly files: ParsedFile[]) {
    for (const f of files) for (const [name, body] of f.defines) this.defines.set(name, { file: f.name, body });
  }

  /** Renders one file's body with `data` as dot and $. */
  render(fileName: string, data: unknown): string {
    const file = this.files.find((f) => f.name === fileName);
    if (!file) throw new Error(`no template ${fileName}`);
    return this.run(file.name, file.body, { dot: data, vars: [new Map([["$", data]])] });
  }

  private include(file: string, line: number, name: string, dot: unknown): string {
    const def = this.defines.get(name);
    if (!def) throw new TemplateError(file, line, `no template "${name}" is defined (define it with {{define "${name}"}})`);
    if (++this.depth > MAX_INCLUDE_DEPTH) throw new TemplateError(file, line, `include "${name}": more than ${MAX_INCLUDE_DEPTH} nested includes (a template including itself?)`);
    try {
      return this.run(def.file, def.body, { dot, vars: [new Map([["$", dot]])] });
    } finally {
      this.depth--;
    }
  }

  private run(file: string, nodes: Node[], scope: Scope): string {
    let out = "";
    for (const n of nodes) out += this.node(file, n, scope);
    return out;
  }

  private node(file: string, n: Node, scope: Scope): string {
    switch (n.t) {
      case "text": return n.text;
      case "action": {
        const v = this.pipe(file, n.pipe, scope);
        return n.pipe.assign ? "" : formatValue(v);
      }
      case "template": return this.include(file, n.line, n.name, n.pipe ? this.pipe(file, n.pipe, scope) : undefined);
      case "if": case "with": {
        const inner: Scope = { dot: scope.dot, vars: [...scope.vars, new Map()] };
        const v = this.pipe(file, n.pipe, inner);
        if (truthy(v)) return this.run(file, n.body, n.t === "with" ? { ...inner, dot: v } : inner);
        return this.run(file, n.orElse, inner);
      }
      case "range": return this.range(file, n, scope);
    }
  }

  private range(file: string, n: Extract<Node, { t: "range" }>, scope: Scope): string {
    const inner: Scope = { dot: scope.dot, vars: [...scope.vars, new Map()] };
    const pipe = { ...n.pipe, vars: [], assign: undefined };
    const v = this.pipe(file, pipe, inner);
    let entries: Array<[unknown, unknown]>;
    if (v === null || v === undefined) entries = [];
    else if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (typeof v === "object") entries = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
    else if (typeof v === "number" && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else throw new TemplateError(file, n.pipe.line, `range can't iterate over ${formatValue(v)}`);
    if (!entries.length) return this.run(file, n.orElse, inner);
    let out = "";
    for (const [key, value] of entries) {
      const frame = new Map<string, unknown>();
      if (n.pipe.vars.length === 1) frame.set(n.pipe.vars[0], value);
      if (n.pipe.vars.length === 2) { frame.set(n.pipe.vars[0], key); frame.set(n.pipe.vars[1], value); }
      out += this.run(file, n.body, { dot: value, vars: [...inner.vars, frame] });
    }
    return out;
  }

  private pipe(file: string, p: Pipeline, scope: Scope): unknown {
    let value: unknown;
    let hasValue = false;
    for (const cmd of p.commands) {
      value = this.command(file, p.line, cmd.operands, scope, hasValue ? [value] : []);
      hasValue = true;
    }
    if (p.assign) {
      const name = p.vars[0];
      if (p.assign === "declare") scope.vars[scope.vars.length - 1].set(name, value);
      else {
        const frame = [...scope.vars].reverse().find((f) => f.has(name));
        if (!frame) throw new TemplateError(file, p.line, `undefined variable: ${name}`);
        frame.set(name, value);
      }
    }
    return value;
  }

  private command(file: string, line: number, operands: Operand[], scope: Scope, piped: unknown[]): unknown {
    const [head, ...rest] = operands;
    if (head.t === "fn") {
      if (head.name === "include") {
        const args = [...rest.map((o) => this.operand(file, line, o, scope)), ...piped];
        if (args.length !== 2 || typeof args[0] !== "string") throw new TemplateError(file, line, 'include takes a template name and a value: include "name" .');
        return this.include(file, line, args[0], args[1]);
      }
      const fn: Func | undefined = FUNCTIONS[head.name];
      if (!fn) throw new TemplateError(file, line, `function "${head.name}" is not supported by trellis' template renderer`);
      // and/or evaluate lazily, as Go's do: the first deciding argument wins.
      if (head.name === "and" || head.name === "or") return this.shortCircuit(file, line, head.name, rest, scope, piped);
      const args = [...rest.map((o) => this.operand(file, line, o, scope)), ...piped];
      try {
        return fn(...args);
      } catch (err) {
        throw new TemplateError(file, line, `${head.name}: ${(err as Error).message}`);
      }
    }
    if (rest.length || piped.length) throw new TemplateError(file, line, "can't give arguments to a non-function value");
    return this.operand(file, line, head, scope);
  }

  private shortCircuit(file: string, line: number, name: "and" | "or", operands: Operand[], scope: Scope, piped: unknown[]): unknown {
    const thunks: Array<() => unknown> = [...operands.map((o) => () => this.operand(file, line, o, scope)), ...piped.map((p) => () => p)];
    if (thunks.length < 1) throw new TemplateError(file, line, `${name} takes at least one argument`);
    let v: unknown;
    for (const thunk of thunks) {
      v = thunk();
      if (name === "and" ? !truthy(v) : truthy(v)) return v;
    }
    return v;
  }

  private operand(file: string, line: number, o: Operand, scope: Scope): unknown {
    if (o.t === "lit") return o.value;
    if (o.t === "fn") return this.command(file, line, [o], scope, []);
    let base: unknown;
    let shown: string;
    if (o.base === "dot") { base = scope.dot; shown = ""; }
    else if ("variable" in o.base) {
      const name = o.base.variable;
      const frame = [...scope.vars].reverse().find((f) => f.has(name));
      if (!frame) throw new TemplateError(file, line, `undefined variable: ${name}`);
      base = frame.get(name);
      shown = name;
    } else { base = this.pipe(file, o.base.pipe, scope); shown = "(...)"; }
    for (const key of o.path) {
      if (base === null || base === undefined) throw new TemplateError(file, line, `nil pointer evaluating ${shown || "interface {}"}.${key}`);
      if (typeof base !== "object" || Array.isArray(base)) throw new TemplateError(file, line, `can't evaluate field ${key} in ${shown || "."} (not a map)`);
      base = (base as Record<string, unknown>)[key];
      shown += `.${key}`;
    }
    return base;
  }
}
