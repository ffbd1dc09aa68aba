// Path normalization as Envoy's HCM does it: the probe's tricks come out as the plain path; queries are left alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizePath } from "./path-normalization.js";

const ALL = { normalize: true, mergeSlashes: true, unescapeSlashes: false };

test("dot segments, repeated slashes and encoded unreserved characters normalize to one path", () => {
  const table: Array<[string, string]> = [
    ["/./details/0", "/details/0"],
    ["//details/0", "/details/0"],
    ["/%64etails/0", "/details/0"],
    ["/a/../details/0", "/details/0"],
    ["/../../details/0", "/details/0"],
    ["/details/%2E%2E/admin", "/admin"],
    ["/details\\..\\admin", "/admin"],
    ["/details/a%2fb", "/details/a%2Fb"],
    ["/details/0?x=/./y//z", "/details/0?x=/./y//z"],
    ["/details/", "/details/"],
    ["/details/.", "/details/"],
  ];
  for (const [input, out] of table) assert.equal(normalizePath(input, ALL), out, input);
});

test("each option is honoured alone, and escaped slashes are decoded only when asked", () => {
  assert.equal(normalizePath("//a/./b", { normalize: false, mergeSlashes: true, unescapeSlashes: false }), "/a/./b");
  assert.equal(normalizePath("//a/./b", { normalize: true, mergeSlashes: false, unescapeSlashes: false }), "//a/b");
  assert.equal(normalizePath("/a%2F..%2Fb", { normalize: true, mergeSlashes: true, unescapeSlashes: true }), "/b");
  assert.equal(normalizePath("*", ALL), undefined);
});
