// Test helpers for Bookinfo: start services as child processes, a recording upstream, and a port nobody listens on.
import http from "node:http";
import net from "node:net";
import { startService, type RunningService, type ServiceName } from "../../examples/bookinfo/spawn-service.js";

export const HOST = "127.0.0.1";

/** Starts services and remembers them so that one `after` can stop them all. */
export class Fleet {
  private readonly running: RunningService[] = [];

  async start(service: ServiceName, label: string, args: string[] = [], env: Record<string, string> = {}): Promise<RunningService> {
    const s = await startService(service, label, ["--host", HOST, "--port", "0", ...args], env);
    this.running.push(s);
    return s;
  }

  async stop(): Promise<void> {
    await Promise.all(this.running.map((s) => s.stop()));
  }
}

export function upstreamEnv(name: string, port: number): Record<string, string> {
  return { [`${name}_HOSTNAME`]: HOST, [`${name}_SERVICE_PORT`]: String(port) };
}

/** A port that was free a moment ago and has no listener: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no address");
  return address.port;
}

export interface Recorded {
  path: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * A real local HTTP server standing in for an upstream: it records each request's headers and answers with the
 * status and JSON body that `answer` returns for the path, or never answers when it returns null (until closed).
 */
export async function recordingServer(answer: (path: string) => { status: number; body: unknown } | null): Promise<{ port: number; seen: Recorded[]; close(): Promise<void> }> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    const reply = answer(req.url ?? "");
    if (reply === null) return;
    const { status, body } = reply;
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("no address");
  return {
    port: address.port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
}

export async function getText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { headers, redirect: "manual" });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

export function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}
