// A duplex over a socket whose first bytes were already read (to sniff the protocol): it replays them, then relays.
// Node's HTTP/2 server reads a real socket's handle directly and would miss bytes put back with unshift().
import { Duplex } from "node:stream";
import type { Socket } from "node:net";

/** `closeAfter` sees each chunk written; once it returns true the socket closes when that chunk is flushed. */
export function replaySocket(socket: Socket, first: Buffer, closeAfter?: (chunk: Buffer) => boolean): Duplex {
  const wrapper = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
      if (closeAfter?.(chunk)) socket.destroySoon();
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  wrapper.push(first);
  socket.on("data", (d: Buffer) => {
    if (!wrapper.push(d)) socket.pause();
  });
  socket.once("end", () => wrapper.push(null));
  socket.once("close", () => wrapper.destroy());
  socket.on("error", (e) => wrapper.destroy(e));
  // What the HTTP/2 session and request handlers read off their socket.
  for (const key of ["remoteAddress", "remotePort", "remoteFamily", "localAddress", "localPort"] as const) {
    Object.defineProperty(wrapper, key, { get: () => socket[key] });
  }
  Object.assign(wrapper, { setNoDelay: () => wrapper, setKeepAlive: () => wrapper, setTimeout: (ms: number, cb?: () => void) => { socket.setTimeout(ms, cb); return wrapper; } });
  return wrapper;
}
