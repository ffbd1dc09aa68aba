// One HTTP/1.1 request and its response on a pooled upstream connection: the request streams out as the downstream
// sends it (framed by length or chunked), the response comes back as events without Node's stream machinery.
import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { chunkHeader, lastChunk } from "./body-reader.js";

export type RequestFraming = "none" | "length" | "chunked";

export type ExchangeFailure = { reason: "connect-failure" | "reset"; message: string; error?: unknown };

export interface ExchangeHandlers {
  onResponse(status: number, headers: IncomingHttpHeaders, body: UpstreamBody): void;
  onFailure(f: ExchangeFailure): void;
}

/** The response body: "data", "end" and "error" events; pause and resume hold back the upstream connection. */
export class UpstreamBody extends EventEmitter {
  trailers: Record<string, string> | undefined;
  complete = false;
  constructor(private readonly socket: () => Socket | undefined) {
    super();
  }

  pause(): this {
    this.socket()?.pause();
    return this;
  }

  resume(): this {
    this.socket()?.resume();
    return this;
  }
}

/**
 * The request side: what the router writes into. Bytes written before a connection is assigned wait here (the
 * head first); afterwards they go straight to the socket, with the socket's backpressure.
 */
export class ClientExchange extends EventEmitter {
  socket: Socket | undefined;
  /** Set by the pool: sends the head and anything queued once a connection is assigned. */
  private queued: Array<Buffer | string> = [];
  private ended = false;
  requestDone = false;
  responded = false;
  settled = false;
  body: UpstreamBody | undefined;
  readonly isHead: boolean;

  constructor(readonly head: string, readonly framing: RequestFraming, method: string, readonly handlers: ExchangeHandlers) {
    super();
    this.isHead = method === "HEAD";
    this.queued.push(head);
    if (framing === "none") this.end();
  }

  write(chunk: Buffer): boolean {
    if (this.ended || chunk.length === 0) return true;
    const framed = this.framing === "chunked";
    const s = this.socket;
    if (!s) {
      if (framed) this.queued.push(chunkHeader(chunk.length), chunk, "\r\n");
      else this.queued.push(chunk);
      return this.queued.length < 64;
    }
    if (s.destroyed) return true;
    if (framed) {
      s.cork();
      s.write(chunkHeader(chunk.length), "latin1");
      s.write(chunk);
      const ok = s.write("\r\n", "latin1");
      s.uncork();
      return ok;
    }
    return s.write(chunk);
  }

  end(trailers?: Record<string, string | string[] | undefined>): void {
    if (this.ended) return;
    this.ended = true;
    const tail = this.framing === "chunked" ? lastChunk(trailers) : undefined;
    const s = this.socket;
    if (!s) {
      if (tail) this.queued.push(tail);
      return;
    }
    if (tail && !s.destroyed) s.write(tail, "latin1");
    this.requestDone = true;
  }

  /** Called by the pool with the connection this exchange now owns: flushes the head and what was written. */
  attach(socket: Socket): void {
    this.socket = socket;
    socket.cork();
    for (const part of this.queued) {
      if (typeof part === "string") socket.write(part, "latin1");
      else socket.write(part);
    }
    socket.uncork();
    this.queued = [];
    if (this.ended) this.requestDone = true;
    socket.on("drain", this.onDrain);
    // A writer held back while the exchange waited for a connection resumes now, or at the socket's drain.
    if (!socket.writableNeedDrain) this.emit("drain");
  }

  /** The connection moves on (to the pool or the next exchange): late writes of this request go nowhere. */
  detach(): void {
    this.socket?.removeListener("drain", this.onDrain);
    this.ended = true;
  }

  private readonly onDrain = (): void => {
    this.emit("drain");
  };

  /** Destroyed by the router (timeouts, downstream gone): the connection cannot be reused. */
  abort(): void {
    this.settled = true;
    this.emit("abort");
  }
}
