// HAProxy as the peer: two single-threaded processes chained, keep-alive to the next hop, as a mesh hop would be.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, start } from "../lib/processes.js";
import { type Chain, listening, type Peer, type Protocol } from "./chain.js";
import { meshCerts, type MeshCerts } from "../lib/mesh-certs.js";

/**
 * `tls.in`: the listener requires a client certificate from the root; `tls.out`: the next hop is dialled over mTLS.
 * HTTP/2 and gRPC: h2 on both sides (prior knowledge without TLS, ALPN with it); tcp: mode tcp.
 */
function config(listenPort: number, nextPort: number, protocol: Protocol, tls?: { certs: MeshCerts; in: boolean; out: boolean }): string {
  const h2 = protocol === "h2" || protocol === "grpc";
  const alpn = h2 ? "h2" : "http/1.1";
  const bind = (tls?.in ? ` ssl crt ${tls.certs.server.combined} ca-file ${tls.certs.root} verify required alpn ${alpn}` : h2 ? " proto h2" : "");
  const server = (tls?.out ? ` ssl crt ${tls.certs.client.combined} ca-file ${tls.certs.root} verify required alpn ${alpn}` : "") + (h2 ? " proto h2" : "");
  const http = protocol === "tcp" ? "" : `
  option http-keep-alive
  http-reuse always`;
  return `global
  nbthread 1
  maxconn 4000
defaults
  mode ${protocol === "tcp" ? "tcp" : "http"}
  timeout connect 5s
  timeout client 60s
  timeout server 60s${http}
frontend in
  bind 127.0.0.1:${listenPort}${bind}
  default_backend next
backend next
  server s1 127.0.0.1:${nextPort}${server}
`;
}

export const haproxy: Peer = {
  name: "haproxy",
  available() {
    try {
      execFileSync("haproxy", ["-v"], { stdio: "ignore" });
      return undefined;
    } catch {
      return "haproxy is not installed (run scripts/install-peers.sh)";
    }
  },
  async startChain(backendPort, options): Promise<Chain> {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-haproxy-"));
    const protocol = options.protocol ?? "http1";
    const serverSide = await freePort();
    const certs = options.tls ? await meshCerts() : undefined;
    writeFileSync(join(dir, "server.cfg"), config(serverSide, backendPort, protocol, certs && { certs, in: true, out: false }));
    const procs = [start("haproxy-server", "haproxy", ["-db", "-f", join(dir, "server.cfg")], {}, options.cpus)];
    let entryPort = serverSide;
    if (options.hops !== 1) {
      entryPort = await freePort();
      writeFileSync(join(dir, "client.cfg"), config(entryPort, serverSide, protocol, certs && { certs, in: false, out: true }));
      procs.push(start("haproxy-client", "haproxy", ["-db", "-f", join(dir, "client.cfg")], {}, options.cpus));
    }
    await listening(procs, [serverSide, entryPort]);
    return { entryPort, serverPort: serverSide, procs, stop: async () => { await Promise.all(procs.map((p) => p.stop())); } };
  },
};
