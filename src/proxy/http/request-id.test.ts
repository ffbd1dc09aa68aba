// Generated request ids are version 4 UUIDs in their canonical form, distinct across pool refills.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newRequestId } from "./request-id.js";

test("request ids are canonical version 4 UUIDs and do not repeat across pool refills", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = newRequestId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 2000);
});

test("an id is its own string: a later id does not change an earlier one", () => {
  const a = newRequestId();
  const copy = `${a}`;
  newRequestId();
  assert.equal(a, copy);
});
