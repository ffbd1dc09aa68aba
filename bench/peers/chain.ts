// A "mesh hop" under test: two proxies chained client-side -> server-side -> backend, or none (direct); or one proxy
// alone in front of the backend, for what a single process can serve.
import { type Proc, waitForPort } from "../lib/processes.js";

/**
 * What the proxies carry. "h2": HTTP/2 without TLS (prior knowledge) from the client, and to the next hop where the
 * peer can speak it; "grpc": the same for gRPC (nginx's grpc_pass); "tcp": an opaque byte stream (L4 proxying).
 */
export type Protocol = "http1" | "h2" | "grpc" | "tcp";

export interface ChainOptions {
  tls: boolean;
  protocol?: Protocol;
  /** 2 (default): client-side and server-side proxies; 1: the server-side proxy alone, entryPort === serverPort. */
  hops?: 1 | 2;
  /** With protocol "h2": an HTTP/1.1 twin of the backend, for a peer that cannot proxy HTTP/2 upstream (nginx). */
  http1BackendPort?: number;
  /** CPUs to pin the proxies to (taskset's list, e.g. "1"), for per-core figures. */
  cpus?: string;
}

export interface Chain {
  /** Where the load generator connects. */
  entryPort: number;
  /** The server-side proxy's listener (mutual TLS when the chain was started with tls); procs[0] is that proxy. */
  serverPort?: number;
  /** The proxy processes, for CPU and memory readings (empty for direct). */
  procs: Proc[];
  /** Trellis only: each proxy's admin port (same order as procs), for its runtime figures (bench/lib/proxy-runtime.ts). */
  adminPorts?: number[];
  stop(): Promise<void>;
}

export interface Peer {
  name: string;
  /** Whether this peer can run here (its binary, and what the protocol needs, installed), with the reason when not. */
  available(protocol?: Protocol): string | undefined;
  startChain(backendPort: number, options: ChainOptions): Promise<Chain>;
}

export const direct: Peer = {
  name: "direct",
  available: () => undefined,
  startChain: async (backendPort) => ({ entryPort: backendPort, procs: [], stop: async () => {} }),
};

/**
 * Waits until every port listens; if one never does, stops the chain's processes so a failed start leaks none.
 * 60 s: a Node proxy took 5 s to start with the shared 2 cores at load average 33, and mutual TLS adds to that.
 */
export async function listening(procs: Proc[], ports: number[]): Promise<void> {
  try {
    for (const port of ports) await waitForPort(port, 60_000);
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    throw err;
  }
}
