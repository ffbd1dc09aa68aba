// The gRPC scenario's messages, `message Payload { bytes body = 1; }` on the wire, so the load generator (h2load,
// which knows no protobuf) can send a prebuilt request and check response sizes.
export const GRPC_METHOD = "/trellis.bench.Bench/Unary";

/** A Payload with `size` bytes in field 1 (length-delimited). */
export function payload(size: number): Buffer {
  const len: number[] = [];
  for (let n = size; ; n >>>= 7) {
    if (n < 0x80) { len.push(n); break; }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...len]), Buffer.alloc(size, "x")]);
}

/** gRPC's length-prefixed message: uncompressed flag, 4-byte big-endian length, the message. */
export function framed(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}
