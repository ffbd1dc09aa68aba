// The downstream request body on its way upstream: streamed to the first attempt with backpressure, and held (up to
// a limit, as Envoy's per-request buffer) while a retry may need to send it again.
import { ClientExchange } from "../../http1/client-exchange.js";
import type { StreamContext } from "../stream-context.js";
import type { BodySink } from "./upstream-outcome.js";

/** Envoy's default per_request_buffer_limit_bytes for retries is 64 KiB; past it a request is no longer retried. */
export const REQUEST_BODY_REPLAY_LIMIT = 64 * 1024;

/** The body so far, for a retry to send again; gives up (and frees it) once it passes the limit. */
export class ReplayBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** False once the body outgrew the limit: a retry cannot send it again. */
  replayable = true;

  constructor(private readonly limit = REQUEST_BODY_REPLAY_LIMIT) {}

  add(chunk: Buffer): void {
    if (!this.replayable) return;
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.replayable = false;
      this.chunks = [];
    } else this.chunks.push(chunk);
  }

  /** Sends what was held to a new attempt and ends it. */
  replayTo(sink: BodySink): void {
    for (const chunk of this.chunks) sink.write(chunk);
    sink.end();
  }
}

/** Ends the upstream request, passing the downstream's request trailers on where the upstream can carry them. */
function endUpstream(sink: BodySink, req: StreamContext["req"]): void {
  const trailers = (req as { trailers?: Record<string, string> }).trailers;
  if (sink instanceof ClientExchange && trailers && Object.keys(trailers).length > 0) sink.end(trailers);
  else sink.end();
}

/** Streams the downstream body into the first attempt's sink, counting bytes, keeping the stream alive, holding it for `replay`. */
export function pumpRequestBody(ctx: StreamContext, sink: BodySink, replay: ReplayBuffer | undefined): void {
  const req = ctx.req;
  const resume = () => req.resume();
  req.on("data", (chunk: Buffer) => {
    ctx.bytesReceived += chunk.length;
    ctx.idleTimer?.refresh();
    replay?.add(chunk);
    if (!sink.write(chunk)) {
      req.pause();
      sink.once("drain", resume);
    }
  });
  req.on("end", () => endUpstream(sink, req));
}
