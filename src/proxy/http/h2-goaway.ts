// Spots a GOAWAY carrying an error code among the HTTP/2 frames a server session writes. Node's HTTP/2 server sends
// one on a connection error (a bad frame, a flow-control violation) but then keeps the socket open; RFC 9113 5.4.1
// says the endpoint MUST close the connection after it, so the connection manager closes it on seeing one.
const GOAWAY = 0x7;

/** Feeds written bytes in order; returns true once a GOAWAY with a non-zero error code has been written. */
export function goawayErrorWatch(): (chunk: Buffer) => boolean {
  const header = Buffer.alloc(9);
  let headerFill = 0;
  /** Bytes of the current frame's payload still to come; -1 between frames. */
  let payloadLeft = -1;
  let goaway = false;
  /** The first 8 payload bytes of a GOAWAY: last stream id, then the error code. */
  const code = Buffer.alloc(8);
  let codeFill = 0;
  let seen = false;
  return (chunk) => {
    let i = 0;
    while (i < chunk.length && !seen) {
      if (payloadLeft < 0) {
        const n = Math.min(9 - headerFill, chunk.length - i);
        chunk.copy(header, headerFill, i, i + n);
        headerFill += n;
        i += n;
        if (headerFill < 9) break;
        headerFill = 0;
        payloadLeft = header.readUIntBE(0, 3);
        goaway = header[3] === GOAWAY;
        codeFill = 0;
      } else {
        const n = Math.min(payloadLeft, chunk.length - i);
        if (goaway && codeFill < 8) {
          const c = Math.min(n, 8 - codeFill);
          chunk.copy(code, codeFill, i, i + c);
          codeFill += c;
          if (codeFill === 8 && code.readUInt32BE(4) !== 0) seen = true;
        }
        payloadLeft -= n;
        i += n;
      }
      if (payloadLeft === 0) payloadLeft = -1;
    }
    return seen;
  };
}
