// A "mesh hop" under test: two proxies chained client-side -> server-side -> backend, or none (direct).
import type { Proc } from "../lib/processes.js";

export interface Chain {
  /** Where the load generator connects. */
  entryPort: number;
  /** The server-side proxy's listener (mutual TLS when the chain was started with tls); procs[0] is that proxy. */
  serverPort?: number;
  /** The proxy processes, for CPU and memory readings (empty for direct). */
  procs: Proc[];
  stop(): Promise<void>;
}

export interface Peer {
  name: string;
  /** Whether this peer can run here (its binary is installed), with the reason when not. */
  available(): string | undefined;
  startChain(backendPort: number, options: { tls: boolean }): Promise<Chain>;
}

export const direct: Peer = {
  name: "direct",
  available: () => undefined,
  startChain: async (backendPort) => ({ entryPort: backendPort, procs: [], stop: async () => {} }),
};
