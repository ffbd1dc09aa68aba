// Reads an HTTP/1.x message body off a connection's bytes, by the framing its head chose: a fixed length, chunked
// (decoded, trailers parsed) or up to the close. Body bytes are handed on as slices of the received buffers: no copies.
import { HeadError, parseTrailers } from "./head-parser.js";

export type Framing = "none" | "length" | "chunked" | "close";

const MAX_CHUNK_LINE = 4096;
const MAX_TRAILER_BYTES = 60 * 1024;

const enum State { Size, Data, DataCr, Trailers, Done }

export interface BodySink {
  onData(chunk: Buffer): void;
  onEnd(trailers: Record<string, string> | undefined): void;
}

export class BodyReader {
  private remaining: number;
  private state: State;
  private line = "";
  private trailerText = "";

  constructor(readonly framing: Framing, length: number, private readonly sink: BodySink) {
    this.remaining = framing === "length" ? length : 0;
    this.state = framing === "chunked" ? State.Size : State.Data;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** Starts a body that may be empty: ends it at once when there is nothing to read. */
  begin(): void {
    if (this.framing === "none" || (this.framing === "length" && this.remaining === 0)) this.finish(undefined);
  }

  /** The peer closed: the end of a close-delimited body, a truncated one otherwise (the caller reports it). */
  closed(): boolean {
    if (this.state === State.Done) return true;
    if (this.framing === "close") {
      this.finish(undefined);
      return true;
    }
    return false;
  }

  /** Consumes body bytes from `buf` at `start`; returns where the body ended (the next message's first byte). */
  feed(buf: Buffer, start: number): number {
    let pos = start;
    const len = buf.length;
    while (pos < len && this.state !== State.Done) {
      switch (this.state) {
        case State.Data: {
          if (this.framing === "close") {
            this.sink.onData(pos === 0 ? buf : buf.subarray(pos));
            return len;
          }
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          this.sink.onData(pos === 0 && n === len ? buf : buf.subarray(pos, pos + n));
          pos += n;
          if (this.remaining === 0) {
            if (this.framing === "length") this.finish(undefined);
            else this.state = State.DataCr;
          }
          break;
        }
        case State.DataCr: {
          // The CRLF after a chunk's data, kept in `line` until both bytes arrive.
          this.line += String.fromCharCode(buf[pos++]);
          if (this.line.length === 2) {
            if (this.line !== "\r\n") throw new HeadError(400, "chunk data not followed by CRLF");
            this.line = "";
            this.state = State.Size;
          }
          break;
        }
        case State.Size: {
          const lf = buf.indexOf(10, pos);
          const stop = lf < 0 ? len : lf + 1;
          this.line += buf.toString("latin1", pos, stop);
          pos = stop;
          if (this.line.length > MAX_CHUNK_LINE) throw new HeadError(400, "chunk size line too long");
          if (lf < 0) break;
          if (!this.line.endsWith("\r\n")) throw new HeadError(400, "chunk size line not ended by CRLF");
          const m = /^([0-9a-fA-F]{1,12})(?:[ \t]*;[^\r\n]*)?\r\n$/.exec(this.line);
          if (!m) throw new HeadError(400, `invalid chunk size ${JSON.stringify(this.line.slice(0, 20))}`);
          this.line = "";
          const size = parseInt(m[1], 16);
          if (size === 0) this.state = State.Trailers;
          else {
            this.remaining = size;
            this.state = State.Data;
          }
          break;
        }
        case State.Trailers: {
          const lf = buf.indexOf(10, pos);
          const stop = lf < 0 ? len : lf + 1;
          this.trailerText += buf.toString("latin1", pos, stop);
          pos = stop;
          if (this.trailerText.length > MAX_TRAILER_BYTES) throw new HeadError(400, "trailers too large");
          if (lf < 0) break;
          if (this.trailerText.endsWith("\r\n\r\n") || this.trailerText === "\r\n") {
            const text = this.trailerText.slice(0, -2);
            this.finish(text.length > 0 ? parseTrailers(text.slice(0, -2), 100) : undefined);
          } else if (!this.trailerText.endsWith("\r\n")) throw new HeadError(400, "trailer line not ended by CRLF");
          break;
        }
      }
    }
    return pos;
  }

  private finish(trailers: Record<string, string> | undefined): void {
    this.state = State.Done;
    this.sink.onEnd(trailers);
  }
}

/** Frames one chunk of a chunked body (callers skip empty chunks: a zero-size chunk ends the body). */
export function chunkHeader(size: number): string {
  return `${size.toString(16)}\r\n`;
}

/** The last chunk, with trailers if any. */
export function lastChunk(trailers: Record<string, string | string[] | undefined> | undefined): string {
  let s = "0\r\n";
  if (trailers) for (const k in trailers) {
    const v = trailers[k];
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) s += `${k}: ${x}\r\n`;
  }
  return `${s}\r\n`;
}
