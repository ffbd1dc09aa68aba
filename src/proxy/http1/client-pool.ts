// Keep-alive HTTP/1.1 connections to a cluster's hosts, without Node's Agent and ClientRequest: one exchange at a
// time per connection, idle connections reused last-in first-out, a per-host connection limit with a queue behind
// it (Envoy's max_connections and pending requests), max requests per connection, connect and idle timeouts.
import type { Socket } from "node:net";
import type { Stats } from "../stats/stats.js";
import { BodyReader, type Framing } from "./body-reader.js";
import type { ClientExchange } from "./client-exchange.js";
import { UpstreamBody } from "./client-exchange.js";
import { HeadError, parseResponseHead, type ResponseHead } from "./head-parser.js";

const MAX_RESPONSE_HEAD = 96 * 1024;
const CRLFCRLF = Buffer.from("\r\n\r\n");

export interface Http1PoolOptions {
  connectTimeoutMs: number;
  maxConnectionsPerHost: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  idleTimeoutMs: number;
  stats: Stats;
  statPrefix: string;
  /** Opens a connection (TLS when the cluster says so); may throw when TLS material is not ready. */
  dial(address: string, port: number): { socket: Socket; secure: boolean };
  /** Changes when the TLS material rotates: connections made with older material are not reused. */
  generation(): number;
}

interface HostPool {
  key: string;
  address: string;
  port: number;
  idle: Connection[];
  count: number;
  waiting: ClientExchange[];
}

class Connection {
  exchange: ClientExchange | undefined;
  uses = 0;
  connected = false;
  error: (Error & { code?: string }) | undefined;
  private buf: Buffer | undefined;
  private head: ResponseHead | undefined;
  private reader: BodyReader | undefined;
  private body: UpstreamBody | undefined;
  private connectTimer: NodeJS.Timeout | undefined;

  constructor(readonly pool: Http1ClientPool, readonly host: HostPool, readonly socket: Socket, readonly generation: number, secure: boolean, connectTimeoutMs: number) {
    socket.setNoDelay(true);
    this.connectTimer = setTimeout(() => socket.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT_CONNECT" })), connectTimeoutMs);
    socket.once(secure ? "secureConnect" : "connect", () => {
      this.connected = true;
      clearTimeout(this.connectTimer);
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err: Error) => (this.error ??= err));
    socket.once("close", () => this.onClose());
    socket.on("timeout", () => socket.destroy());
  }

  private onData(chunk: Buffer): void {
    const ex = this.exchange;
    if (!ex) {
      // Bytes from a server no request is waiting on: the connection's framing is lost.
      this.socket.destroy();
      return;
    }
    const buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = undefined;
    let pos = 0;
    try {
      while (pos < buf.length && this.exchange === ex) {
        if (!this.reader) {
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end < 0) {
            if (buf.length - pos > MAX_RESPONSE_HEAD) throw new HeadError(502, "response head too large");
            this.buf = pos === 0 ? buf : buf.subarray(pos);
            return;
          }
          const head = parseResponseHead(buf, pos, end, 200);
          pos = end + 4;
          // Interim responses (100 Continue and the like) are not forwarded: the proxy answers Expect itself.
          if (head.status >= 100 && head.status < 200) {
            if (head.status === 101) throw new HeadError(502, "unexpected 101 Switching Protocols");
            continue;
          }
          this.startBody(ex, head);
          if (this.exchange !== ex) break;
          continue;
        }
        pos = this.reader.feed(buf, pos);
        if (this.reader?.done) break;
      }
    } catch (err) {
      this.fail(ex, err as Error);
      return;
    }
    // Bytes past the end of a response nobody asked for: do not reuse the connection.
    if (pos < buf.length && this.exchange !== ex) this.socket.destroy();
  }

  private startBody(ex: ClientExchange, head: ResponseHead): void {
    this.head = head;
    const s = head.status;
    const framing: Framing = ex.isHead || s === 204 || s === 304 ? "none" : head.chunked ? "chunked" : head.contentLength >= 0 ? "length" : "close";
    const body = new UpstreamBody(() => (this.exchange === ex ? this.socket : undefined));
    this.body = body;
    this.reader = new BodyReader(framing, head.contentLength, {
      onData: (chunk) => body.emit("data", chunk),
      onEnd: (trailers) => {
        body.trailers = trailers;
        this.finish(ex, body);
      },
    });
    ex.responded = true;
    ex.body = body;
    ex.handlers.onResponse(s, head.headers, body);
    this.reader?.begin();
  }

  private finish(ex: ClientExchange, body: UpstreamBody): void {
    const head = this.head!;
    const reusable = !head.close && ex.requestDone && !ex.settled && this.reader!.framing !== "close";
    this.reset();
    ex.detach();
    body.complete = true;
    this.pool.release(this, reusable);
    body.emit("end");
  }

  private reset(): void {
    this.exchange = undefined;
    this.head = undefined;
    this.reader = undefined;
    this.body = undefined;
    this.buf = undefined;
  }

  private fail(ex: ClientExchange, err: Error): void {
    this.error ??= err;
    this.socket.destroy();
    if (!ex.responded) this.settle(ex);
  }

  /** The exchange failed before any response: connection failure or reset, as the router counts them. */
  private settle(ex: ClientExchange): void {
    if (ex.settled && ex.responded) return;
    const err = this.error;
    const code = err?.code;
    ex.handlers.onFailure({ reason: this.connected ? "reset" : "connect-failure", message: code ?? err?.message ?? "connection closed", error: err });
  }

  assign(ex: ClientExchange): void {
    this.uses++;
    this.exchange = ex;
    this.socket.setTimeout(0);
    this.socket.resume();
    ex.once("abort", () => {
      if (this.exchange === ex) this.socket.destroy();
    });
    ex.attach(this.socket);
  }

  private onClose(): void {
    clearTimeout(this.connectTimer);
    const ex = this.exchange;
    // A close-delimited body ends here: finishing it hands the (closed) connection back, which is not reused.
    if (!(ex?.responded && this.reader && !this.reader.done && this.reader.closed())) {
      const body = this.body;
      const reader = this.reader;
      this.reset();
      if (ex) {
        ex.detach();
        if (!ex.responded) this.settle(ex);
        // A body nobody reads any more (a retried or abandoned attempt) has no "error" listener: nothing to tell.
        else if (reader && body && !reader.done && body.listenerCount("error") > 0) body.emit("error", this.error ?? new Error("upstream connection closed before the end of the response"));
      }
    }
    this.pool.closed(this);
  }
}

export class Http1ClientPool {
  private readonly hosts = new Map<string, HostPool>();
  private closing = false;
  private waitingCount = 0;

  constructor(private readonly options: Http1PoolOptions) {}

  /** Sends the exchange to a host: on an idle connection, a new one, or after the ones in use (pending). */
  request(address: string, port: number, ex: ClientExchange): void {
    const key = `${address}:${port}`;
    let host = this.hosts.get(key);
    if (!host) {
      host = { key, address, port, idle: [], count: 0, waiting: [] };
      this.hosts.set(key, host);
    }
    const generation = this.options.generation();
    while (host.idle.length > 0) {
      const c = host.idle.pop()!;
      if (c.socket.destroyed) continue;
      if (c.generation !== generation) {
        c.socket.destroy();
        continue;
      }
      c.assign(ex);
      return;
    }
    if (host.count < this.options.maxConnectionsPerHost) {
      this.open(host, ex);
      return;
    }
    host.waiting.push(ex);
    this.waitingCount++;
    ex.once("abort", () => {
      const i = host.waiting.indexOf(ex);
      if (i >= 0) {
        host.waiting.splice(i, 1);
        this.waitingCount--;
      }
    });
  }

  private open(host: HostPool, ex: ClientExchange): void {
    let dialled;
    try {
      dialled = this.options.dial(host.address, host.port);
    } catch (err) {
      queueMicrotask(() => ex.handlers.onFailure({ reason: "connect-failure", message: (err as Error).message, error: err }));
      return;
    }
    const { stats, statPrefix } = this.options;
    stats.inc(`${statPrefix}.upstream_cx_total`);
    stats.gauge(`${statPrefix}.upstream_cx_active`, 1);
    host.count++;
    const c = new Connection(this, host, dialled.socket, this.options.generation(), dialled.secure, this.options.connectTimeoutMs);
    c.assign(ex);
  }

  /** A connection finished its exchange: the next waiting exchange takes it, or it waits idle. */
  release(c: Connection, reusable: boolean): void {
    const max = this.options.maxRequestsPerConnection;
    if (reusable && max > 0 && c.uses >= max) {
      this.options.stats.inc(`${this.options.statPrefix}.upstream_cx_max_requests`);
      reusable = false;
    }
    if (!reusable || this.closing || c.socket.destroyed || this.hosts.get(c.host.key) !== c.host) {
      c.socket.destroy();
      return;
    }
    const next = this.nextWaiting(c.host);
    if (next) {
      c.assign(next);
      return;
    }
    c.socket.setTimeout(this.options.idleTimeoutMs);
    c.host.idle.push(c);
  }

  closed(c: Connection): void {
    const { stats, statPrefix } = this.options;
    stats.gauge(`${statPrefix}.upstream_cx_active`, -1);
    const host = c.host;
    host.count--;
    const i = host.idle.indexOf(c);
    if (i >= 0) host.idle.splice(i, 1);
    const next = this.closing ? undefined : this.nextWaiting(host);
    if (next) this.open(host, next);
    else if (host.count === 0 && host.waiting.length === 0 && this.hosts.get(host.key) === host) this.hosts.delete(host.key);
  }

  private nextWaiting(host: HostPool): ClientExchange | undefined {
    const next = host.waiting.shift();
    if (next) this.waitingCount--;
    return next;
  }

  /** Exchanges waiting for a connection (the max_pending_requests breaker). */
  pending(): number {
    return this.waitingCount;
  }

  /** A host left the cluster: its idle connections close now, busy ones after their exchange. */
  drainHost(key: string): void {
    const host = this.hosts.get(key);
    if (!host) return;
    this.hosts.delete(key);
    for (const c of host.idle.splice(0)) c.socket.destroy();
  }

  close(): void {
    this.closing = true;
    for (const host of this.hosts.values()) for (const c of host.idle.splice(0)) c.socket.destroy();
  }
}
