// Shared plumbing for the Bookinfo services: options, upstream addresses, header forwarding, JSON I/O, serving.
import http from "node:http";

export interface ServeOptions {
  host: string;
  port: number;
}

/** Reads `--name VALUE` or `--name=VALUE` from argv, else the environment variable, else the fallback. */
export function option(argv: string[], name: string, env: string, fallback: string): string {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}` && i + 1 < argv.length) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return process.env[env] ?? fallback;
}

/** Port and bind address: Bookinfo listens on 9080 by default; several copies on one host pass --port or PORT. */
export function serveOptions(argv: string[]): ServeOptions {
  const raw = option(argv, "port", "PORT", "9080");
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port / PORT: "${raw}" is not a port number; give an integer from 0 to 65535`);
  }
  return { host: option(argv, "host", "HOST", "0.0.0.0"), port };
}

/** Base URL of an upstream as Istio's Bookinfo builds it: http://{NAME_HOSTNAME}{.SERVICES_DOMAIN}:{NAME_SERVICE_PORT}. */
export function upstreamBase(name: string): string {
  const key = name.toUpperCase();
  const host = process.env[`${key}_HOSTNAME`] ?? name;
  const port = process.env[`${key}_SERVICE_PORT`] ?? "9080";
  const domain = process.env.SERVICES_DOMAIN ? `.${process.env.SERVICES_DOMAIN}` : "";
  return `http://${host}${domain}:${port}`;
}

/**
 * Headers Istio's Bookinfo services copy from an inbound request to their outbound ones (details.rb, reviews'
 * LibertyRestEndpoint.java, productpage.py), plus the single-header `b3` and `baggage` so that W3C baggage and
 * compact B3 traces also join up.
 */
export const FORWARDED_HEADERS: readonly string[] = [
  "x-request-id",
  "x-ot-span-context",
  "x-datadog-trace-id",
  "x-datadog-parent-id",
  "x-datadog-sampling-priority",
  "traceparent",
  "tracestate",
  "baggage",
  "x-cloud-trace-context",
  "grpc-trace-bin",
  "b3",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "sw8",
  "end-user",
  "user-agent",
  "cookie",
  "authorization",
  "jwt",
];

export function forwardHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

export interface Fetched {
  /** HTTP status, or 0 when no response arrived (refused, reset, timed out). */
  status: number;
  body: unknown;
}

/**
 * GETs JSON with a deadline on the whole exchange. A fresh connection each time (no agent), as Istio's productpage
 * does on purpose, so that a mesh spreads requests over every version of a backend.
 */
export function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Fetched> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Fetched): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = http.request(url, { method: "GET", headers: { accept: "application/json", ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => finish({ status: 0, body: null }));
      res.on("end", () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          body = null;
        }
        finish({ status: res.statusCode ?? 0, body });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, body: null });
    }, timeoutMs);
    req.on("error", () => finish({ status: 0, body: null }));
    req.end();
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: http.ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Path segments of the request URL, without the query string. */
export function pathOf(req: http.IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/**
 * Serves the handler, prints "NAME listening on http://HOST:PORT" once bound (launchers and tests read the port
 * from that line when they asked for port 0), and closes on SIGINT/SIGTERM.
 */
export function serve(name: string, options: ServeOptions, handler: Handler): http.Server {
  const server = http.createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        console.error(`${name}: ${req.method} ${req.url}: ${String(err)}`);
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.destroy();
      });
  });
  server.listen(options.port, options.host, () => {
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : options.port;
    const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
    console.log(`${name} listening on http://${shownHost}:${port}`);
  });
  server.on("error", (err) => {
    console.error(`${name}: cannot listen on ${options.host}:${options.port}: ${err.message}`);
    process.exit(1);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return server;
}

/** Runs a service's main, turning a bad option into a one-line error and exit code 2. */
export function runMain(main: () => void): void {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
}
