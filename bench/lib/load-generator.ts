// An open-loop HTTP/1.1 load generator: sends at a fixed rate over N keep-alive connections and measures every
// latency from the request's intended send time, so a stalled proxy cannot hide its stall (no coordinated omission).
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { connect as connectTls } from "node:tls";
import { createHistogram } from "node:perf_hooks";

export interface LoadOptions {
  host: string;
  port: number;
  path: string;
  /** Requests per second over all connections. */
  rate: number;
  connections: number;
  durationMs: number;
  /** Requests sent before measuring (warm-up), at the same rate. */
  warmupMs: number;
  hostHeader?: string;
  /** HTTPS: each connection is TLS with this SNI, trusting this CA file (an edge gateway's clients). */
  tls?: { servername: string; caFile: string };
}

export interface LoadResult {
  sent: number;
  completed: number;
  errors: number;
  non2xx: number;
  achievedRate: number;
  /** Latencies in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

interface Conn {
  socket: Socket;
  /** Intended send times (ns) of requests written and not yet answered, oldest first. */
  inFlight: bigint[];
  /** Intended send times of requests waiting for this connection to be free. */
  queue: bigint[];
  buffer: Buffer;
}

function parseResponses(conn: Conn, onResponse: (status: number) => void): void {
  for (;;) {
    const headerEnd = conn.buffer.indexOf("\r\n\r\n");
    if (headerEnd < 0) return;
    const head = conn.buffer.subarray(0, headerEnd).toString("latin1");
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) throw new Error(`response without content-length: ${head.split("\r\n")[0]}`);
    const total = headerEnd + 4 + Number(m[1]);
    if (conn.buffer.length < total) return;
    conn.buffer = conn.buffer.subarray(total);
    onResponse(status);
  }
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const request = Buffer.from(`GET ${opts.path} HTTP/1.1\r\nHost: ${opts.hostHeader ?? opts.host}\r\nUser-Agent: trellis-bench\r\n\r\n`, "latin1");
  const histogram = createHistogram({ lowest: 1, highest: 60_000_000_000, figures: 3 });
  const intervalNs = BigInt(Math.round(1e9 / opts.rate));
  let measureFrom = 0n;
  let completed = 0, errors = 0, non2xx = 0, sent = 0;
  const conns: Conn[] = await Promise.all(Array.from({ length: opts.connections }, () => new Promise<Conn>((resolve, reject) => {
    const socket = opts.tls
      ? connectTls({ host: opts.host, port: opts.port, servername: opts.tls.servername, ca: readFileSync(opts.tls.caFile), ALPNProtocols: ["http/1.1"] }, () => { socket.setNoDelay(true); resolve(conn); })
      : connect({ host: opts.host, port: opts.port, noDelay: true }, () => resolve(conn));
    const conn: Conn = { socket, inFlight: [], queue: [], buffer: Buffer.alloc(0) };
    socket.once("error", reject);
  })));
  let failure: Error | undefined;
  for (const conn of conns) {
    conn.socket.on("data", (chunk: Buffer) => {
      conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
      try {
        parseResponses(conn, (status) => {
          const intended = conn.inFlight.shift()!;
          const now = process.hrtime.bigint();
          if (intended >= measureFrom) {
            histogram.record(Number(now - intended) || 1);
            completed++;
            if (status < 200 || status >= 300) non2xx++;
          }
          const next = conn.queue.shift();
          if (next !== undefined) send(conn, next);
        });
      } catch (err) {
        failure = err as Error;
      }
    });
    conn.socket.on("error", () => errors++);
  }
  function send(conn: Conn, intended: bigint) {
    conn.inFlight.push(intended);
    conn.socket.write(request);
    sent++;
  }
  const start = process.hrtime.bigint();
  measureFrom = start + BigInt(opts.warmupMs) * 1_000_000n;
  // Tells a harness reading stderr that the measured window starts (it samples the proxies' CPU from here).
  setTimeout(() => process.stderr.write("measuring\n"), opts.warmupMs).unref();
  const end = measureFrom + BigInt(opts.durationMs) * 1_000_000n;
  let next = start;
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = process.hrtime.bigint();
      while (next <= now && next < end) {
        const conn = conns[i++ % conns.length];
        // One request in flight per connection (no pipelining): later ones wait, and their wait counts.
        if (conn.inFlight.length === 0) send(conn, next);
        else conn.queue.push(next);
        next += intervalNs;
      }
      if (next >= end || failure) return resolve();
      const waitMs = Number(next - process.hrtime.bigint()) / 1e6;
      setTimeout(tick, Math.max(0, Math.floor(waitMs)));
    };
    tick();
  });
  // Let outstanding requests finish, bounded.
  const drainDeadline = Date.now() + 10_000;
  while (conns.some((c) => c.inFlight.length > 0 || c.queue.length > 0) && Date.now() < drainDeadline && !failure) {
    await new Promise((r) => setTimeout(r, 5));
  }
  for (const c of conns) c.socket.destroy();
  if (failure) throw failure;
  const ms = (ns: number) => ns / 1e6;
  const measuredSeconds = opts.durationMs / 1000;
  return {
    sent, completed, errors, non2xx,
    achievedRate: completed / measuredSeconds,
    p50: ms(histogram.percentile(50)), p90: ms(histogram.percentile(90)), p99: ms(histogram.percentile(99)),
    p999: ms(histogram.percentile(99.9)), max: ms(histogram.max), mean: ms(histogram.mean),
  };
}

// Run as a child process: options as JSON in argv[2], result as JSON on stdout.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  runLoad(JSON.parse(process.argv[2]) as LoadOptions).then(
    (r) => process.stdout.write(JSON.stringify(r) + "\n"),
    (err: Error) => { console.error(err.message); process.exit(1); },
  );
}
