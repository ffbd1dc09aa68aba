// One downstream HTTP/1.x connection: reads request heads strictly, streams each body to its request, answers in
// order (a pipelined request waits for the response before it), keeps the connection alive between requests, and
// answers bad requests with a status naming the problem, then closes. Upgrade requests leave the codec with the socket.
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { BodyReader } from "./body-reader.js";
import { checkPartialRequestLine, HeadError, parseRequestHead, type RequestHead } from "./head-parser.js";
import { Http1Request, Http1Response, type ResponseOwner } from "./server-messages.js";

const CRLFCRLF = Buffer.from("\r\n\r\n");
/** Bytes of a next (pipelined) request kept while one is answered, before the connection is held back. */
const MAX_BUFFERED = 64 * 1024;

export interface Http1ServerOptions {
  maxHeaderBytes: number;
  maxHeaders: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface Http1Handler {
  request(req: Http1Request, res: Http1Response): void;
  upgrade(req: Http1Request, socket: Socket, head: Buffer): void;
  /** A request the codec refused (malformed, too large, timed out), before it reached the handler. */
  refused(status: number, reason: string): void;
}


export class Http1ServerConnection implements ResponseOwner {
  private buf: Buffer | undefined;
  private req: Http1Request | undefined;
  private res: Http1Response | undefined;
  private reader: BodyReader | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private handedOff = false;
  /** Set when the connection must close once the current response is done. */
  private closeAfter = false;
  /** The client half-closed (FIN): requests already received are answered, then the connection closes. */
  private peerEnded = false;

  constructor(readonly socket: Socket, private readonly handler: Http1Handler, private readonly options: Http1ServerOptions, firstBytes?: Buffer) {
    socket.setNoDelay(true);
    socket.on("data", this.onData);
    socket.on("error", () => socket.destroy());
    socket.once("close", () => this.onClose());
    // The listener allows half-open sockets (for tcp_proxy), so the client's FIN must be acted on here.
    socket.once("end", () => this.onEnd());
    socket.on("timeout", () => socket.destroy());
    // A response writer held back by a full socket (write returned false) resumes here.
    socket.on("drain", () => this.res?.drained());
    this.awaitHead();
    if (firstBytes && firstBytes.length > 0) this.onData(firstBytes);
  }

  /** No request in progress: the connection is idle (drain closes these at once). */
  get idle(): boolean {
    return this.req === undefined && this.buf === undefined;
  }

  /** Closes the connection after the response in progress, or now when there is none. */
  closeWhenIdle(): void {
    this.closeAfter = true;
    if (this.res) this.res.shouldKeepAlive = false;
    if (this.idle) this.socket.end();
  }

  private awaitHead(): void {
    this.socket.setTimeout(this.options.idleTimeoutMs);
    if (this.options.headersTimeoutMs > 0) {
      this.headTimer ??= setTimeout(() => this.refuse(new HeadError(400, "request headers timed out"), 408), this.options.headersTimeoutMs);
      this.headTimer.refresh();
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.handedOff) return;
    const buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = undefined;
    let pos = 0;
    try {
      while (pos < buf.length && !this.closed && !this.handedOff) {
        if (this.reader) {
          pos = this.reader.feed(buf, pos);
          if (!this.reader?.done) continue;
          this.reader = undefined;
          continue;
        }
        if (this.req) {
          // A pipelined request waits until the current one is answered.
          this.buf = pos === 0 ? buf : buf.subarray(pos);
          if (this.buf.length > MAX_BUFFERED) this.socket.pause();
          return;
        }
        const end = buf.indexOf(CRLFCRLF, pos);
        if (end < 0) {
          if (buf.length - pos > this.options.maxHeaderBytes) throw new HeadError(431, "request headers too large");
          checkPartialRequestLine(buf, pos);
          this.buf = pos === 0 ? buf : buf.subarray(pos);
          return;
        }
        if (end - pos > this.options.maxHeaderBytes) throw new HeadError(431, "request headers too large");
        // Blank lines before a request line are tolerated (RFC 9112 2.2).
        if (end === pos) {
          pos += 4;
          continue;
        }
        const head = parseRequestHead(buf, pos, end, this.options.maxHeaders);
        pos = end + 4;
        if (head.upgrade) {
          this.handOff(head, buf.subarray(pos));
          return;
        }
        this.start(head);
      }
    } catch (err) {
      if (err instanceof HeadError) this.refuse(err);
      else {
        console.error(`trellis proxy: HTTP/1 codec error: ${(err as Error).message}`);
        this.socket.destroy();
      }
    }
  };

  private start(head: RequestHead): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.socket.setTimeout(0);
    const socket = this.socket;
    if (head.expectContinue) {
      // The proxy answers Expect itself (as Envoy does by default) and does not forward it.
      delete head.headers.expect;
      if (head.minor === 1) socket.write("HTTP/1.1 100 Continue\r\n\r\n", "latin1");
    }
    const req = new Http1Request(head.method, head.target, head.minor, head.headers, socket, head.chunked);
    const keepAlive = !head.close && !this.closeAfter;
    const res = new Http1Response(socket, this, head.minor, keepAlive, head.method === "HEAD");
    this.req = req;
    this.res = res;
    const framing = head.chunked ? "chunked" : head.contentLength > 0 ? "length" : "none";
    const reader = new BodyReader(framing, head.contentLength, {
      onData: (chunk) => req.push(chunk),
      onEnd: (trailers) => req.pushEnd(trailers),
    });
    this.reader = reader;
    // A body-less request is complete before the handler sees it (its "end" waits for a reader).
    reader.begin();
    if (reader.done) this.reader = undefined;
    this.handler.request(req, res);
  }

  responseDone(res: Http1Response, keepAlive: boolean): void {
    if (res !== this.res) return;
    const req = this.req!;
    this.req = undefined;
    this.res = undefined;
    // A request whose body is still arriving cannot share the connection with the next one.
    if (!keepAlive || this.closeAfter || !req.complete) {
      this.reader = undefined;
      this.buf = undefined;
      this.socket.end();
      return;
    }
    const pending = this.buf;
    if (this.peerEnded && !pending) {
      this.socket.end();
      return;
    }
    this.awaitHead();
    if (pending) {
      this.buf = undefined;
      this.socket.resume();
      // Answered from a later tick: a response written from within the previous one's end stays in order.
      queueMicrotask(() => this.onData(pending));
    } else this.socket.resume();
  }

  private handOff(head: RequestHead, rest: Buffer): void {
    this.handedOff = true;
    if (this.headTimer) clearTimeout(this.headTimer);
    this.socket.setTimeout(0);
    this.socket.removeListener("data", this.onData);
    const req = new Http1Request(head.method, head.target, head.minor, head.headers, this.socket, false);
    this.handler.upgrade(req, this.socket, Buffer.from(rest));
  }

  /** Answers a request the codec could not take, then closes: the connection's framing cannot be trusted after it. */
  private refuse(err: HeadError, status: number = err.status): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.handler.refused(status, err.message);
    const socket = this.socket;
    this.closed = true;
    if (this.res?.headersSent) {
      socket.destroy();
      return;
    }
    // A timeout with nothing received closes quietly, as Node and Envoy do for idle connections.
    if (status === 408 && this.buf === undefined && this.req === undefined) {
      socket.destroy();
      return;
    }
    const body = `${err.message}\n`;
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Bad Request"}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, "latin1");
    else socket.destroy();
  }

  private onEnd(): void {
    if (this.handedOff || this.closed) return;
    this.peerEnded = true;
    // A request received whole is answered first (responseDone closes); one whose body or head has not all arrived
    // never will, so it is given up. With nothing received, the connection just closes.
    if (this.req) {
      if (!this.req.complete) this.socket.destroy();
    } else if (this.buf === undefined) this.socket.end();
    else this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    if (this.headTimer) clearTimeout(this.headTimer);
    const req = this.req;
    const res = this.res;
    this.req = undefined;
    this.res = undefined;
    if (req && !req.complete) req.emit("aborted");
    res?.finishClose();
  }
}
