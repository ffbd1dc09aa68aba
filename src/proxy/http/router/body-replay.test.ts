// The replay buffer: holds a body up to its limit for a retry, and gives up (freeing it) once the body passes it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplayBuffer, REQUEST_BODY_REPLAY_LIMIT } from "./body-replay.js";

function sink(): { chunks: Buffer[]; ended: boolean; write(c: Buffer): boolean; end(): void; once(): unknown } {
  const s = { chunks: [] as Buffer[], ended: false, write: (c: Buffer) => (s.chunks.push(c), true), end: () => void (s.ended = true), once: () => s };
  return s;
}

test("a body within the limit is sent again whole, in order, and the attempt ended", () => {
  const b = new ReplayBuffer(10);
  b.add(Buffer.from("hello"));
  b.add(Buffer.from("world"));
  assert.equal(b.replayable, true);
  const s = sink();
  b.replayTo(s);
  assert.equal(Buffer.concat(s.chunks).toString(), "helloworld");
  assert.equal(s.ended, true);
});

test("a body past the limit is no longer replayable, and later chunks are not held", () => {
  const b = new ReplayBuffer(10);
  b.add(Buffer.from("hello"));
  b.add(Buffer.from("world!"));
  assert.equal(b.replayable, false);
  b.add(Buffer.from("x"));
  assert.equal(b.replayable, false, "once past the limit it stays so");
  const s = sink();
  b.replayTo(s);
  assert.equal(s.chunks.length, 0, "nothing held");
});

test("the default limit is Envoy's 64 KiB", () => {
  assert.equal(REQUEST_BODY_REPLAY_LIMIT, 65536);
  const b = new ReplayBuffer();
  b.add(Buffer.alloc(65536));
  assert.equal(b.replayable, true);
  b.add(Buffer.alloc(1));
  assert.equal(b.replayable, false);
});
