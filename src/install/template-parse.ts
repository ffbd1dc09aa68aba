// Parses a chart file written in the Go text/template subset Helm charts use: text, {{ pipelines }}, if/else if/
// else, range (with $i, $v :=), with, define, template, variables. Everything else is refused with file and line.
import { type Command, type Node, type Operand, type ParsedFile, type Pipeline, TemplateError } from "./template-ast.js";
import { type Piece, splitActions, type Token, tokenize } from "./template-lex.js";

const UNSUPPORTED_KEYWORDS = new Set(["block", "break", "continue"]);

/** Parses one file; `isKnownFunction` decides which function names are accepted (others are refused by name). */
export function parseTemplate(file: string, src: string, isKnownFunction: (name: string) => boolean): ParsedFile {
  const parser = new Parser(file, splitActions(file, src), isKnownFunction);
  const body = parser.nodes(new Set());
  return { name: file, body, defines: parser.defines };
}

type Stop = "end" | "else";

class Parser {
  readonly defines = new Map<string, Node[]>();
  private i = 0;
  private stoppedBy: { kind: Stop; rest: Token[]; line: number } | undefined;

  constructor(private readonly file: string, private readonly pieces: Piece[], private readonly known: (name: string) => boolean) {}

  private fail(line: number, msg: string): never {
    throw new TemplateError(this.file, line, msg);
  }

  /** Nodes until one of `stops` (then `stoppedBy` says which) or the end of the file. */
  nodes(stops: Set<Stop>): Node[] {
    const out: Node[] = [];
    while (this.i < this.pieces.length) {
      const piece = this.pieces[this.i++];
      if (piece.t === "text") { out.push(piece); continue; }
      const tokens = tokenize(this.file, piece.line, piece.src);
      const head = tokens[0];
      const keyword = head?.t === "word" ? head.value : undefined;
      if (keyword === "end" || keyword === "else") {
        if (!stops.has(keyword)) this.fail(piece.line, `unexpected {{${keyword}}}`);
        this.stoppedBy = { kind: keyword, rest: tokens.slice(1), line: piece.line };
        return out;
      }
      if (keyword && UNSUPPORTED_KEYWORDS.has(keyword)) this.fail(piece.line, `{{${keyword}}} is not supported by trellis' template renderer`);
      if (keyword === "if" || keyword === "with" || keyword === "range") out.push(this.control(keyword, tokens.slice(1), piece.line));
      else if (keyword === "define") this.define(tokens.slice(1), piece.line);
      else if (keyword === "template") out.push(this.templateCall(tokens.slice(1), piece.line));
      else out.push({ t: "action", pipe: this.pipeline(tokens, piece.line) });
    }
    if (stops.size) this.fail(this.pieces.at(-1)?.t === "action" ? (this.pieces.at(-1) as { line: number }).line : 0, "unexpected end of file: an {{end}} is missing");
    return out;
  }

  private control(kind: "if" | "with" | "range", tokens: Token[], line: number): Node {
    const pipe = this.pipeline(tokens, line, kind === "range");
    const body = this.nodes(new Set(["end", "else"]));
    let orElse: Node[] = [];
    const stop = this.stoppedBy!;
    if (stop.kind === "else") {
      const chained = stop.rest[0]?.t === "word" && stop.rest[0].value === "if" && kind === "if";
      if (chained) orElse = [this.control("if", stop.rest.slice(1), stop.line)];
      else {
        if (stop.rest.length) this.fail(stop.line, `{{else ${stop.rest.map((t) => t.value).join(" ")}}} is not supported (only {{else}} and {{else if}})`);
        orElse = this.nodes(new Set(["end"]));
      }
    } else if (stop.rest.length) this.fail(stop.line, "{{end}} takes nothing after it");
    if (kind === "range") return { t: "range", pipe, body, orElse };
    return { t: kind, pipe, body, orElse };
  }

  private define(tokens: Token[], line: number): void {
    if (tokens.length !== 1 || tokens[0].t !== "str") this.fail(line, '{{define}} takes one quoted name: {{define "name"}}');
    const body = this.nodes(new Set(["end"]));
    if (this.stoppedBy!.rest.length) this.fail(this.stoppedBy!.line, "{{end}} takes nothing after it");
    this.defines.set(tokens[0].value as string, body);
  }

  private templateCall(tokens: Token[], line: number): Node {
    if (tokens[0]?.t !== "str") this.fail(line, '{{template}} takes a quoted name: {{template "name" .}}');
    return { t: "template", name: tokens[0].value as string, pipe: tokens.length > 1 ? this.pipeline(tokens.slice(1), line) : undefined, line };
  }

  /** `[$a[, $b] :=|=] command | command ...` */
  pipeline(tokens: Token[], line: number, allowTwoVars = false): Pipeline {
    const vars: string[] = [];
    let assign: Pipeline["assign"];
    const declIndex = tokens.findIndex((t) => t.t === "punct" && (t.value === ":=" || t.value === "="));
    if (declIndex > 0 && tokens.slice(0, declIndex).every((t) => t.t === "var" || (t.t === "punct" && t.value === ","))) {
      for (const t of tokens.slice(0, declIndex)) if (t.t === "var") vars.push(t.value);
      if (vars.length > (allowTwoVars ? 2 : 1)) this.fail(line, `too many variables declared: ${vars.join(", ")}`);
      assign = (tokens[declIndex].value === ":=") ? "declare" : "set";
      tokens = tokens.slice(declIndex + 1);
    }
    const commands: Command[] = [];
    let current: Operand[] = [];
    let k = 0;
    while (k < tokens.length) {
      const t = tokens[k];
      if (t.t === "punct" && t.value === "|") {
        if (!current.length) this.fail(line, "empty command in pipeline");
        commands.push({ operands: current });
        current = [];
        k++;
        continue;
      }
      const [operand, next] = this.operand(tokens, k, line);
      current.push(operand);
      k = next;
    }
    if (!current.length) this.fail(line, "missing value for command");
    commands.push({ operands: current });
    return { vars, assign, commands, line };
  }

  private operand(tokens: Token[], k: number, line: number): [Operand, number] {
    const t = tokens[k];
    switch (t.t) {
      case "str": case "num": return [{ t: "lit", value: t.value }, k + 1];
      case "field": return [{ t: "field", base: "dot", path: splitPath(t.value) }, k + 1];
      case "var": {
        const chain = tokens[k + 1]?.t === "field" ? splitPath(tokens[k + 1].value as string) : [];
        return [{ t: "field", base: { variable: t.value }, path: chain }, k + (chain.length ? 2 : 1)];
      }
      case "word": {
        if (t.value === "true" || t.value === "false") return [{ t: "lit", value: t.value === "true" }, k + 1];
        if (t.value === "nil") return [{ t: "lit", value: null }, k + 1];
        if (!this.known(t.value)) this.fail(line, `function "${t.value}" is not supported by trellis' template renderer`);
        return [{ t: "fn", name: t.value }, k + 1];
      }
      case "punct": {
        if (t.value !== "(") this.fail(line, `unexpected "${t.value}"`);
        let depth = 0;
        let end = k;
        for (; end < tokens.length; end++) {
          const p = tokens[end];
          if (p.t === "punct" && p.value === "(") depth++;
          if (p.t === "punct" && p.value === ")" && --depth === 0) break;
        }
        if (end >= tokens.length) this.fail(line, "unclosed (");
        return [{ t: "field", base: { pipe: this.pipeline(tokens.slice(k + 1, end), line) }, path: [] }, end + 1];
      }
    }
  }
}

function splitPath(field: string): string[] {
  return field === "." ? [] : field.slice(1).split(".");
}
