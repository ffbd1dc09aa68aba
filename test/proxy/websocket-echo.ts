// A minimal RFC 6455 WebSocket echo server (on an http.Server's "upgrade") and client, for tests: real handshakes
// (Sec-WebSocket-Accept checked) and real framing (masked client frames, 7/16/64-bit lengths, close handshake).
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const accept = (key: string) => createHash("sha1").update(key + GUID).digest("base64");

interface Frame { opcode: number; payload: Buffer }

/** One frame, masked when a client sends it. */
export function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length;
  const head = Buffer.alloc(2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (masked ? 4 : 0));
  head[0] = 0x80 | opcode;
  let o = 2;
  if (len < 126) head[1] = len;
  else if (len < 65536) { head[1] = 126; head.writeUInt16BE(len, 2); o = 4; } else { head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); o = 10; }
  if (!masked) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const mask = randomBytes(4);
  mask.copy(head, o);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, body]);
}

/** Takes whole frames off the front of buf (unmasking them); returns them and the bytes left over. */
function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let pos = 0;
  for (;;) {
    if (buf.length - pos < 2) break;
    const masked = (buf[pos + 1] & 0x80) !== 0;
    let len = buf[pos + 1] & 0x7f;
    let o = pos + 2;
    if (len === 126) { if (buf.length < o + 2) break; len = buf.readUInt16BE(o); o += 2; } else if (len === 127) { if (buf.length < o + 8) break; len = Number(buf.readBigUInt64BE(o)); o += 8; }
    const mask = masked ? buf.subarray(o, o + 4) : undefined;
    if (masked) o += 4;
    if (buf.length < o + len) break;
    const payload = Buffer.from(buf.subarray(o, o + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    frames.push({ opcode: buf[pos] & 0x0f, payload });
    pos = o + len;
  }
  return { frames, rest: buf.subarray(pos) };
}

/** Server side: completes the handshake and echoes every data frame; answers a close with a close. */
export function acceptWebSocket(req: IncomingMessage, socket: Socket, head: Buffer): void {
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string") return void socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
  socket.on("error", () => socket.destroy());
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
  let buf: Buffer = Buffer.from(head);
  const onData = (d: Buffer) => {
    const { frames, rest } = parseFrames(buf.length ? Buffer.concat([buf, d]) : d);
    buf = rest;
    for (const f of frames) {
      if (f.opcode === 0x8) return void socket.end(frame(0x8, f.payload, false));
      if (f.opcode === 0x9) socket.write(frame(0xa, f.payload, false));
      else if (f.opcode === 0x1 || f.opcode === 0x2) socket.write(frame(f.opcode, f.payload, false));
    }
  };
  socket.on("data", onData);
  socket.on("end", () => socket.end());
  if (buf.length) onData(Buffer.alloc(0));
}

/**
 * Client side: opens a WebSocket to host:port through whatever is listening there, sends each message as a binary
 * frame, collects the echoes, then closes cleanly. Resolves with the echoed payloads; rejects on any protocol error.
 */
export function webSocketRoundTrip(port: number, path: string, messages: Buffer[], timeoutMs = 10_000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const socket = connect({ host: "127.0.0.1", port });
    const got: Buffer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    let open = false;
    let closing = false;
    const fail = (e: Error) => { socket.destroy(); reject(e); };
    const timer = setTimeout(() => fail(new Error(`websocket ${path}: no close within ${timeoutMs} ms (${got.length}/${messages.length} echoes)`)), timeoutMs);
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!open) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString("latin1");
        if (!/^HTTP\/1\.1 101 /.test(head) || !head.toLowerCase().includes(`sec-websocket-accept: ${accept(key).toLowerCase()}`)) return fail(new Error(`websocket ${path}: bad handshake: ${head}`));
        open = true;
        buf = buf.subarray(end + 4);
        for (const m of messages) socket.write(frame(0x2, m, true));
        if (messages.length === 0) { closing = true; socket.write(frame(0x8, Buffer.alloc(0), true)); }
      }
      const { frames, rest } = parseFrames(buf);
      buf = rest;
      for (const f of frames) {
        if (f.opcode === 0x2) {
          got.push(f.payload);
          if (got.length === messages.length && !closing) { closing = true; socket.write(frame(0x8, Buffer.from([0x03, 0xe8]), true)); }
        } else if (f.opcode === 0x8) {
          if (!closing) return fail(new Error(`websocket ${path}: closed by the server early`));
          socket.end();
        }
      }
    });
    socket.on("error", (e) => { clearTimeout(timer); reject(e); });
    socket.on("close", () => {
      clearTimeout(timer);
      if (closing) resolve(got);
      else reject(new Error(`websocket ${path}: connection closed after ${got.length}/${messages.length} echoes`));
    });
  });
}
