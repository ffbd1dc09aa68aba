// The syntax tree of the Go text/template subset the chart uses (what template-parse.ts builds, template-exec.ts runs).

/** An operand: a literal, a field chain on dot / a variable / a parenthesised pipeline, or a function name. */
export type Operand =
  | { t: "lit"; value: unknown }
  | { t: "field"; base: "dot" | { variable: string } | { pipe: Pipeline }; path: string[] }
  | { t: "fn"; name: string };

/** One command of a pipeline: an operand, applied to arguments when it is a function. */
export interface Command { operands: Operand[] }

export interface Pipeline {
  /** `$x := ...` (declare) or `$x = ...` (assign); range may declare two (`$i, $v :=`). */
  vars: string[];
  assign: "declare" | "set" | undefined;
  commands: Command[];
  line: number;
}

export type Node =
  | { t: "text"; text: string }
  | { t: "action"; pipe: Pipeline }
  | { t: "if" | "with"; pipe: Pipeline; body: Node[]; orElse: Node[] }
  | { t: "range"; pipe: Pipeline; body: Node[]; orElse: Node[] }
  | { t: "template"; name: string; pipe: Pipeline | undefined; line: number };

/** A parsed file: its body and the templates it defines with `define`. */
export interface ParsedFile {
  name: string;
  body: Node[];
  defines: Map<string, Node[]>;
}

/** Refused input: names the file, the line and what is wrong. */
export class TemplateError extends Error {
  readonly code = "TRELLIS_TEMPLATE";
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}
