// TCP metadata exchange between sidecars: HTTP carries the caller's workload in a header, TCP has no headers, so
// (as Istio's metadata exchange does) a client whose mTLS handshake settled on the ALPN "istio-peer-exchange" writes
// one frame first: a magic number, a length and the caller's workload facts. The server reads it off before the
// stream reaches the app. The frame is Trellis' own (JSON, not Istio's protobuf Any); it only travels between
// Trellis proxies, which agree on it through ALPN.
import type { Socket } from "node:net";
import { decodePeer, encodePeer, type PeerInfo } from "../stats/istio-metrics.js";

export const PEER_EXCHANGE_ALPN = "istio-peer-exchange";
const MAGIC = 0x3d230467;
const MAX_FRAME = 16 * 1024;
const HEADER = 8;

export function peerExchangeFrame(self: PeerInfo): Buffer {
  const body = Buffer.from(encodePeer(self), "utf8");
  const header = Buffer.alloc(HEADER);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/**
 * Reads the caller's frame from the start of `socket` and hands back the peer (undefined when the frame is absent or
 * malformed: the connection then carries on without labels, as Istio's does) and whatever followed it. The socket
 * is left paused; `timeoutMs` bounds a client that negotiated the exchange and then sent nothing.
 */
export function readPeerExchange(socket: Socket, timeoutMs: number, done: (peer: PeerInfo | undefined, rest: Buffer | undefined) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (peer: PeerInfo | undefined, rest: Buffer | undefined) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.pause();
    done(peer, rest?.length ? rest : undefined);
  };
  const onData = (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    if (buffered.length < HEADER) return;
    if (buffered.readUInt32BE(0) !== MAGIC) return finish(undefined, buffered);
    const size = buffered.readUInt32BE(4);
    if (size > MAX_FRAME) return finish(undefined, buffered.subarray(HEADER + Math.min(size, buffered.length)));
    if (buffered.length < HEADER + size) return;
    finish(decodePeer(buffered.subarray(HEADER, HEADER + size).toString("utf8")), buffered.subarray(HEADER + size));
  };
  const onEnd = () => finish(undefined, buffered);
  const timer = setTimeout(() => finish(undefined, buffered), timeoutMs);
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.resume();
}
