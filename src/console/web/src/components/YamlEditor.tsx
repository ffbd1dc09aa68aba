// A YAML code editor (CodeMirror: line numbers, YAML highlighting) whose findings are marked on the lines they name,
// in the gutter and under the text, with the same severities as everywhere else in the console.
import { useEffect, useRef } from "react";
import { basicSetup, EditorView } from "codemirror";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { LineCounter, parseDocument, isNode } from "yaml";
import type { Finding } from "../api";

/** "spec.http[0].route" -> ["spec", "http", 0, "route"]. */
export function pathSegments(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of path.split(".")) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) { out.push(part); continue; }
    if (m[1]) out.push(m[1]);
    for (const i of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(i[1]));
  }
  return out;
}

/** The text range of a finding's path in the YAML (its deepest existing ancestor), or undefined. */
export function rangeOf(text: string, path: string | undefined): { from: number; to: number; line: number } | undefined {
  if (!path) return undefined;
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const segs = pathSegments(path);
  for (let n = segs.length; n > 0; n--) {
    const node = doc.getIn(segs.slice(0, n), true);
    if (isNode(node) && node.range) {
      // A collection's range is its whole body: mark its first line, where the key sits.
      const from = node.range[0];
      const end = text.indexOf("\n", from);
      return { from, to: Math.max(from + 1, Math.min(node.range[1], end < 0 ? text.length : end)), line: counter.linePos(from).line };
    }
  }
  return undefined;
}

const SEVERITY: Record<Finding["level"], Diagnostic["severity"]> = { Error: "error", Warning: "warning", Info: "info" };

export function YamlEditor({ value, onChange, findings, label }: { value: string; onChange: (v: string) => void; findings: Finding[]; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  useEffect(() => {
    view.current = new EditorView({
      parent: host.current!,
      doc: value,
      extensions: [basicSetup, yaml(), lintGutter(), EditorView.contentAttributes.of({ "aria-label": label }), EditorView.updateListener.of((u) => { if (u.docChanged) changed.current(u.state.doc.toString()); })],
    });
    return () => view.current?.destroy();
  }, []);
  // A value set from outside (the resource loaded) replaces the text; typing does not come back here as a change.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const text = v.state.doc.toString();
    const diagnostics: Diagnostic[] = [];
    for (const f of findings) {
      const r = rangeOf(text, f.path) ?? { from: 0, to: Math.min(1, text.length) };
      diagnostics.push({ from: r.from, to: r.to, severity: SEVERITY[f.level], message: `${f.code}: ${f.message}` });
    }
    v.dispatch(setDiagnostics(v.state, diagnostics));
  }, [findings, value]);
  return <div ref={host} className="yaml-editor" data-testid="yaml-editor" />;
}
