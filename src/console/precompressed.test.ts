// The console sends brotli when the browser takes it, gzip otherwise, the file itself when it takes neither.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { acceptedEncodings, precompressed } from "./precompressed.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-precompressed-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("Accept-Encoding with q-values: q=0 refuses an encoding", () => {
  assert.deepEqual([...acceptedEncodings("gzip, deflate, br;q=0.9")], ["gzip", "deflate", "br"]);
  assert.deepEqual([...acceptedEncodings("br;q=0, gzip")], ["gzip"]);
  assert.deepEqual([...acceptedEncodings(undefined)], []);
});

test("the smallest copy the browser takes, and only copies that exist", () => {
  const file = join(dir, "index-abc.js");
  writeFileSync(file, "x");
  assert.deepEqual(precompressed(file, "gzip, br"), { file });
  writeFileSync(`${file}.gz`, "g");
  assert.deepEqual(precompressed(file, "gzip, br"), { file: `${file}.gz`, encoding: "gzip" });
  writeFileSync(`${file}.br`, "b");
  assert.deepEqual(precompressed(file, "gzip, br"), { file: `${file}.br`, encoding: "br" });
  assert.deepEqual(precompressed(file, "gzip"), { file: `${file}.gz`, encoding: "gzip" });
  assert.deepEqual(precompressed(file, "identity"), { file });
});
