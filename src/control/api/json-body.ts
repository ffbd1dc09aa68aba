// Reading a JSON request body within limits: a body over the size limit is a 413 that says the limit, and JSON nested
// deeper than any Istio resource is a 400 (deep nesting exhausts the validators' recursion: a 500 before).
import type { IncomingMessage } from "node:http";

export const MAX_BODY = 4 * 1024 * 1024;
/** Istio resources nest about a dozen levels; 64 leaves room and keeps recursive validation safe. */
export const MAX_DEPTH = 64;

/** An oversized body is read and dropped up to this much so its 413 arrives; beyond it the connection is cut. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

function tooLarge(limit: number): string {
  return `the request body is larger than ${limit} bytes (${limit / 1024 / 1024} MiB); send smaller resources`;
}

export class BodyError extends Error {
  constructor(readonly status: 400 | 413, message: string) {
    super(message);
  }
}

/** The deepest nesting of arrays and objects in JSON text, counted without parsing (strings skipped). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/** The parsed body; rejects with a BodyError (413 too large, 400 not JSON or too deep). Memory stays within the limit. */
export function readJsonBody(req: IncomingMessage, limit = MAX_BODY): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
      else if (size > DRAIN_LIMIT) {
        // Past this, reading on would serve the sender, not the answer: the connection goes.
        reject(new BodyError(413, tooLarge(limit)));
        req.destroy();
      }
    });
    req.on("end", () => {
      // Read (and dropped) to its end, so the client gets the 413 rather than a reset while it still writes.
      if (size > limit) return reject(new BodyError(413, tooLarge(limit)));
      const text = Buffer.concat(chunks).toString("utf8");
      if (jsonDepth(text) > MAX_DEPTH) return reject(new BodyError(400, `the request body nests arrays and objects deeper than ${MAX_DEPTH} levels; no resource needs that`));
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new BodyError(400, `the request body is not JSON: ${(err as Error).message}`));
      }
    });
    req.on("error", reject);
  });
}
