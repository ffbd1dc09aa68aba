// nginx as the peer: two single-worker processes chained, with upstream keep-alive, as a mesh hop would be.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, start, waitForPort } from "../lib/processes.js";
import type { Chain, Peer } from "./chain.js";
import { meshCerts, type MeshCerts } from "../lib/mesh-certs.js";

/** `tls.in`: the listener requires a client certificate from the root; `tls.out`: the next hop is dialled over mTLS. */
function config(dir: string, listenPort: number, nextPort: number, tls?: { certs: MeshCerts; in: boolean; out: boolean }): string {
  const c = tls?.certs;
  const listen = tls?.in ? ` ssl;
    ssl_certificate ${c!.server.cert};
    ssl_certificate_key ${c!.server.key};
    ssl_client_certificate ${c!.root};
    ssl_verify_client on` : "";
  const upstreamTls = tls?.out ? `
      proxy_ssl_certificate ${c!.client.cert};
      proxy_ssl_certificate_key ${c!.client.key};
      proxy_ssl_trusted_certificate ${c!.root};
      proxy_ssl_verify on;
      proxy_ssl_name ${c!.server.dns};
      proxy_ssl_session_reuse on;` : "";
  return `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx-${listenPort}.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream next { server 127.0.0.1:${nextPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${listenPort}${listen};
    keepalive_requests 100000;
    location / {
      proxy_pass ${tls?.out ? "https" : "http"}://next;${upstreamTls}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

export const nginx: Peer = {
  name: "nginx",
  available() {
    try {
      execFileSync("nginx", ["-v"], { stdio: "ignore" });
      return undefined;
    } catch {
      return "nginx is not installed (run scripts/install-peers.sh)";
    }
  },
  async startChain(backendPort, options): Promise<Chain> {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-nginx-"));
    const certs = options.tls ? await meshCerts() : undefined;
    for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
    const serverSide = await freePort();
    const clientSide = await freePort();
    writeFileSync(join(dir, "server.conf"), config(dir, serverSide, backendPort, certs && { certs, in: true, out: false }));
    writeFileSync(join(dir, "client.conf"), config(dir, clientSide, serverSide, certs && { certs, in: false, out: true }));
    const procs = [
      start("nginx-server", "nginx", ["-p", dir, "-c", join(dir, "server.conf")]),
      start("nginx-client", "nginx", ["-p", dir, "-c", join(dir, "client.conf")]),
    ];
    await waitForPort(serverSide);
    await waitForPort(clientSide);
    return { entryPort: clientSide, serverPort: serverSide, procs, stop: async () => { await Promise.all(procs.map((p) => p.stop())); } };
  },
};
