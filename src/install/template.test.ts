// The Go-template subset: output as Go's text/template gives it for the constructs the chart uses, and refusals
// that name the file, the line and the unsupported function.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TemplateError } from "./template-ast.js";
import { TemplateSet } from "./template-exec.js";
import { isKnownFunction } from "./template-functions.js";
import { parseTemplate } from "./template-parse.js";
import { goJson } from "./go-json.js";

function render(src: string, data: unknown, helpers = ""): string {
  const files = [parseTemplate("t/_helpers.tpl", helpers, isKnownFunction), parseTemplate("t/x.yaml", src, isKnownFunction)];
  return new TemplateSet(files).render("t/x.yaml", data);
}

const V = { Values: { a: { b: "B", n: 2, list: ["x", "y"], map: { z: 1, a: 2 } }, empty: "", off: false, rev: "" }, Release: { Namespace: "ns" } };

describe("template rendering", () => {
  const cases: Array<[string, string, string]> = [
    ["fields and literals", "{{ .Values.a.b }}-{{ 3 }}-{{ \"s\" }}-{{ true }}", "B-3-s-true"],
    ["missing value prints empty (Helm)", "[{{ .Values.nope }}]", "[]"],
    ["trim markers", "a  \n  {{- \"b\" -}}  \n  c", "abc"],
    ["comment", "a{{/* gone */}}b{{- /* trimmed */ -}}  c", "abc"],
    ["if / else if / else", "{{ if .Values.off }}1{{ else if .Values.empty }}2{{ else }}3{{ end }}", "3"],
    ["with rebinds dot, $ stays", "{{ with .Values.a }}{{ .b }}{{ $.Release.Namespace }}{{ end }}", "Bns"],
    ["range over a list with index", "{{ range $i, $v := .Values.a.list }}{{ $i }}{{ $v }}{{ end }}", "0x1y"],
    ["range over a map in key order", "{{ range $k, $v := .Values.a.map }}{{ $k }}={{ $v }};{{ end }}", "a=2;z=1;"],
    ["range else", "{{ range .Values.nope }}x{{ else }}none{{ end }}", "none"],
    ["pipelines pass the last argument", "{{ .Values.empty | default \"d\" | quote }}", "\"d\""],
    ["variables and set", "{{ $m := dict \"k\" 1 }}{{ $_ := set $m \"j\" 2 }}{{ toJson $m }}", "{\"j\":2,\"k\":1}"],
    ["variable assignment", "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"],
    ["include and nindent", "a:{{ include \"h\" . | nindent 2 }}", "a:\n  ns\n  ns"],
    ["and/or return the deciding value", "{{ or .Values.empty \"x\" }}{{ and 1 .Values.off }}", "xfalse"],
    ["eq with several, ne, gt on int", "{{ eq .Values.a.b \"A\" \"B\" }}{{ ne 1 1 }}{{ gt (int .Values.a.n) 1 }}", "truefalsetrue"],
    ["printf and print", "{{ printf \"%s.%s.svc:%d\" \"istiod\" .Release.Namespace 15012 }}{{ print 1 2 \"a\" }}", "istiod.ns.svc:150121 2a"],
    ["toYaml sorts keys", "{{ toYaml .Values.a.map }}", "a: 2\nz: 1"],
    ["keys | sortAlpha, index", "{{ range keys .Values.a.map | sortAlpha }}{{ index $.Values.a.map . }}{{ end }}", "21"],
    ["sha256sum", "{{ \"abc\" | sha256sum }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["hasKey and deepCopy do not touch the original", "{{ $c := deepCopy .Values.a.map }}{{ $_ := set $c \"q\" 1 }}{{ hasKey $c \"q\" }}{{ hasKey .Values.a.map \"q\" }}", "truefalse"],
  ];
  for (const [name, src, want] of cases) it(name, () => assert.equal(render(src, V, '{{- define "h" -}}\n{{ .Release.Namespace }}\n{{ $.Release.Namespace }}\n{{- end }}'), want));

  it("toJson writes as Go's encoding/json does (sorted keys, HTML escaped)", () => {
    assert.equal(goJson({ b: [1, 0.5, "<&>"], a: null, c: true }), '{"a":null,"b":[1,0.5,"\\u003c\\u0026\\u003e"],"c":true}');
  });
});

describe("template refusals name the file and line", () => {
  const refused: Array<[string, string, RegExp]> = [
    ["an unsupported function", "a\n{{ lookup \"v1\" \"Secret\" \"ns\" \"x\" }}", /^t\/x\.yaml:2: function "lookup" is not supported/],
    ["a missing end", "{{ if true }}\nx", /an \{\{end\}\} is missing/],
    ["an unexpected end", "x\n\n{{ end }}", /^t\/x\.yaml:3: unexpected \{\{end\}\}/],
    ["an unclosed action", "a\n{{ .Values", /^t\/x\.yaml:2: unclosed action/],
    ["break (unsupported keyword)", "{{ range .Values.a.list }}{{ break }}{{ end }}", /\{\{break\}\} is not supported/],
  ];
  for (const [name, src, re] of refused) {
    it(name, () => assert.throws(() => render(src, V), (e: unknown) => e instanceof TemplateError && re.test(e.message)));
  }

  it("a field of a missing map, an undefined template, a map printed bare", () => {
    assert.throws(() => render("\n{{ .Values.nope.deeper }}", V), /x\.yaml:2: nil pointer evaluating \.Values\.nope\.deeper/);
    assert.throws(() => render("{{ include \"nope\" . }}", V), /no template "nope" is defined/);
    assert.throws(() => render("{{ .Values.a }}", V), /cannot be printed as it is: pipe it to toYaml or toJson/);
    assert.throws(() => render("{{ printf \"%x\" 1 }}", V), /printf verb %x is not supported/);
  });
});
