// Values as Helm resolves them: --set parsing (types, lists, escapes), merging of -f files, and the schema check
// naming each wrong field.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mergeValues } from "./chart.js";
import { applySet } from "./set-values.js";
import { checkValues } from "./values-schema.js";

describe("--set", () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ["replicas=2", { replicas: 2 }],
    ["a.b=true,a.c=null,a.d=1.5", { a: { b: true, d: "1.5" } }],
    ["tag=007", { tag: "007" }],
    ["list={x,y}", { list: ["x", "y"] }],
    ["ports[1].port=80", { ports: [null, { port: 80 }] }],
    ["msg=a\\,b", { msg: "a,b" }],
  ];
  for (const [arg, want] of cases) {
    it(arg, () => {
      const v: Record<string, unknown> = {};
      applySet(v, arg);
      assert.deepEqual(v, want);
    });
  }
  it("null removes a key; a key without = is refused", () => {
    const v: Record<string, unknown> = { a: { b: 1, c: 2 } };
    applySet(v, "a.b=null");
    assert.deepEqual(v, { a: { c: 2 } });
    assert.throws(() => applySet(v, "replicas"), /"replicas" must be KEY=VALUE/);
  });
});

describe("merging values files", () => {
  it("merges maps key by key, replaces lists and scalars, null deletes", () => {
    assert.deepEqual(mergeValues({ a: { x: 1, y: 2 }, l: [1, 2], s: "a" }, { a: { y: 3, z: null }, l: [9], s: null }), { a: { x: 1, y: 3 }, l: [9] });
  });
});

describe("the values schema check", () => {
  const schema = {
    type: "object", additionalProperties: false,
    properties: { replicas: { type: "integer", minimum: 1 }, mode: { type: "string", enum: ["a", "b"] }, m: { $ref: "#/definitions/m" } },
    definitions: { m: { type: "object", required: ["k"], properties: { k: { type: "string", pattern: "^[a-z]+$" } } } },
  };
  it("accepts valid values", () => assert.deepEqual(checkValues({ replicas: 2, mode: "a", m: { k: "ok" } }, schema), []));
  it("names every wrong field", () => {
    assert.deepEqual(checkValues({ replicas: 0.5, mode: "c", m: { k: "NO" }, extra: 1 }, schema), [
      "replicas: must be integer, got number",
      'mode: must be one of "a", "b", got "c"',
      'm.k: "NO" does not match ^[a-z]+$',
      "extra: is not a value this chart takes (known here: replicas, mode, m)",
    ]);
    assert.deepEqual(checkValues({ m: {} }, schema), ["m.k: is required"]);
  });
  it("refuses a schema keyword it does not check instead of skipping it", () => {
    assert.throws(() => checkValues({}, { type: "object", oneOf: [] }), /keyword oneOf .* is not supported/);
  });
});
