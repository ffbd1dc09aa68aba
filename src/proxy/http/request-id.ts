// x-request-id values: random (version 4) UUIDs as Envoy generates them, written from a pooled block of random bytes
// into one reused ASCII buffer, so each id costs one 36-byte string (crypto.randomUUID builds it from many pieces:
// about 590 bytes of garbage per request in bench proxy-alloc).
import { randomFillSync } from "node:crypto";

const IDS_PER_REFILL = 256;
const pool = Buffer.alloc(16 * IDS_PER_REFILL);
let offset = pool.length;
const out = Buffer.alloc(36);
const HEX = Buffer.from("0123456789abcdef", "latin1");
/** Where each of the 16 bytes goes in "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
out[8] = out[13] = out[18] = out[23] = 0x2d; // "-"

/** A new random UUID (RFC 9562 version 4), lower-case hex. */
export function newRequestId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  for (let i = 0; i < 16; i++) {
    let b = pool[offset + i];
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10
    out[AT[i]] = HEX[b >> 4];
    out[AT[i] + 1] = HEX[b & 15];
  }
  offset += 16;
  return out.toString("latin1", 0, 36);
}
