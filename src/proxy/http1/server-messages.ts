// The downstream request and response of one HTTP/1.x exchange, shaped like the parts of Node's IncomingMessage and
// ServerResponse the connection manager, filters and router use, without Node's stream machinery per request.
import { EventEmitter } from "node:events";
import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeader } from "node:http";
import type { Socket } from "node:net";
import { chunkHeader, lastChunk } from "./body-reader.js";
import { safeFieldValue } from "./head-parser.js";

export class Http1Request extends EventEmitter {
  readonly httpVersionMajor = 1;
  readonly httpVersion: string;
  trailers: Record<string, string> = {};
  /** Every body byte has arrived (whether or not it was read). */
  complete = false;
  readableEnded = false;
  private flowing = false;
  private queue: Buffer[] | undefined;
  private endQueued = false;
  private flushScheduled = false;

  constructor(readonly method: string, readonly url: string, readonly httpVersionMinor: number, readonly headers: IncomingHttpHeaders, readonly socket: Socket, readonly chunked: boolean) {
    super();
    this.httpVersion = httpVersionMinor === 1 ? "1.1" : "1.0";
  }

  /** Body bytes from the codec: delivered while someone reads, held (and the connection paused) otherwise. */
  push(chunk: Buffer): void {
    if (this.flowing && this.queue === undefined) this.emit("data", chunk);
    else {
      (this.queue ??= []).push(chunk);
      this.socket.pause();
    }
  }

  pushEnd(trailers: Record<string, string> | undefined): void {
    if (trailers) this.trailers = trailers;
    this.complete = true;
    if (this.flowing && this.queue === undefined) this.finish();
    else this.endQueued = true;
  }

  /** A "data" listener starts the flow, as with Node's readable streams (from a later tick, so "end" listeners attach). */
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    super.on(event, listener as (...args: unknown[]) => void);
    if (event === "data") this.resume();
    return this;
  }

  pause(): this {
    this.flowing = false;
    return this;
  }

  resume(): this {
    if (this.flowing) return this;
    this.flowing = true;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
    return this;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const q = this.queue;
    while (this.flowing && q && q.length > 0) this.emit("data", q.shift()!);
    if (!this.flowing) return;
    this.queue = undefined;
    if (this.endQueued) {
      this.endQueued = false;
      this.finish();
    } else if (!this.complete) this.socket.resume();
  };

  private finish(): void {
    if (this.readableEnded) return;
    this.readableEnded = true;
    this.emit("end");
  }
}

/** Date header values, rebuilt at most once a second (as Node and Envoy cache theirs). */
let cachedDate = "";
let cachedDateAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - cachedDateAt >= 1000) {
    cachedDate = new Date(now).toUTCString();
    cachedDateAt = now - (now % 1000);
  }
  return cachedDate;
}


export interface ResponseOwner {
  /** The response is complete on the wire (or abandoned): the connection may take its next request or close. */
  responseDone(res: Http1Response, keepAlive: boolean): void;
}

export class Http1Response extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  /** Cleared to answer with Connection: close (draining, HTTP/1.0, the client asked). */
  shouldKeepAlive: boolean;
  private headers: Record<string, OutgoingHttpHeader> = Object.create(null) as Record<string, OutgoingHttpHeader>;
  private chunked = false;
  private noBody = false;
  private trailers: Record<string, string | string[] | undefined> | undefined;
  private closed = false;

  constructor(readonly socket: Socket, private readonly owner: ResponseOwner, private readonly minor: number, keepAlive: boolean, private readonly isHead: boolean) {
    super();
    this.shouldKeepAlive = keepAlive;
  }

  setHeader(name: string, value: OutgoingHttpHeader | number): this {
    this.headers[name.toLowerCase()] = typeof value === "number" ? String(value) : value;
    return this;
  }

  getHeader(name: string): OutgoingHttpHeader | undefined {
    return this.headers[name.toLowerCase()];
  }

  hasHeader(name: string): boolean {
    return this.headers[name.toLowerCase()] !== undefined;
  }

  removeHeader(name: string): void {
    delete this.headers[name.toLowerCase()];
  }

  getHeaders(): Record<string, OutgoingHttpHeader> {
    return { ...this.headers };
  }

  writeHead(status: number, headers?: Record<string, OutgoingHttpHeader | number | undefined>): this {
    this.statusCode = status;
    if (headers) for (const k in headers) {
      const v = headers[k];
      if (v !== undefined) this.setHeader(k, v);
    }
    return this;
  }

  addTrailers(trailers: Record<string, string | string[] | undefined>): void {
    this.trailers = trailers;
  }

  /** The status line and headers; the framing is chosen here from what the body is known to be. */
  private head(knownLength: number): string {
    this.headersSent = true;
    const status = this.statusCode;
    const h = this.headers;
    this.noBody = this.isHead || status === 204 || status === 304 || (status >= 100 && status < 200);
    let s = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n`;
    if (h.date === undefined) s += `date: ${httpDate()}\r\n`;
    for (const k in h) {
      if (k === "connection" || k === "transfer-encoding" || k === "keep-alive") continue;
      const v = h[k]!;
      if (typeof v === "string") {
        if (safeFieldValue(v)) s += `${k}: ${v}\r\n`;
      } else if (Array.isArray(v)) {
        for (const x of v) if (safeFieldValue(x)) s += `${k}: ${x}\r\n`;
      } else s += `${k}: ${v}\r\n`;
    }
    if (!this.noBody && h["content-length"] === undefined) {
      if (knownLength >= 0) s += `content-length: ${knownLength}\r\n`;
      else if (this.minor === 1) {
        this.chunked = true;
        s += "transfer-encoding: chunked\r\n";
      } else this.shouldKeepAlive = false; // HTTP/1.0: the body ends with the connection.
    }
    if (!this.shouldKeepAlive) s += "connection: close\r\n";
    else if (this.minor === 0) s += "connection: keep-alive\r\n";
    return `${s}\r\n`;
  }

  write(chunk: Buffer | string): boolean {
    if (this.writableEnded || this.closed) return true;
    const socket = this.socket;
    const data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!this.headersSent) {
      socket.cork();
      socket.write(this.head(-1), "latin1");
      const ok = this.body(data);
      socket.uncork();
      return ok;
    }
    return this.body(data);
  }

  private body(data: Buffer): boolean {
    if (this.noBody || data.length === 0) return !this.socket.writableNeedDrain;
    if (!this.chunked) return this.socket.write(data);
    this.socket.write(chunkHeader(data.length), "latin1");
    this.socket.write(data);
    return this.socket.write("\r\n", "latin1");
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.closed) return this;
    this.writableEnded = true;
    const socket = this.socket;
    const data = chunk === undefined ? undefined : typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    socket.cork();
    if (!this.headersSent) socket.write(this.head(data?.length ?? 0), "latin1");
    if (data) this.body(data);
    if (this.chunked) socket.write(lastChunk(this.trailers), "latin1");
    socket.uncork();
    this.writableFinished = true;
    this.owner.responseDone(this, this.shouldKeepAlive);
    this.emit("finish");
    this.finishClose();
    return this;
  }

  /** The connection went away first (or the proxy gave up on it): the response ends unfinished. */
  destroy(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.finishClose();
  }

  /** "close" fires once: after the last byte was handed to the socket, or when the connection was lost. */
  finishClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit("close");
  }

  /** Lets the writer resume after `write` returned false. */
  drained(): void {
    if (!this.closed) this.emit("drain");
  }
}
