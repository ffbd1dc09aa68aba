// nginx as the peer: two single-worker processes chained, with upstream keep-alive, as a mesh hop would be.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, start, waitForPort } from "../lib/processes.js";
import type { Chain, Peer } from "./chain.js";

function config(dir: string, listenPort: number, nextPort: number): string {
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
    listen 127.0.0.1:${listenPort};
    keepalive_requests 100000;
    location / {
      proxy_pass http://next;
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
  async startChain(backendPort): Promise<Chain> {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-nginx-"));
    for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
    const serverSide = await freePort();
    const clientSide = await freePort();
    writeFileSync(join(dir, "server.conf"), config(dir, serverSide, backendPort));
    writeFileSync(join(dir, "client.conf"), config(dir, clientSide, serverSide));
    const procs = [
      start("nginx-server", "nginx", ["-p", dir, "-c", join(dir, "server.conf")]),
      start("nginx-client", "nginx", ["-p", dir, "-c", join(dir, "client.conf")]),
    ];
    await waitForPort(serverSide);
    await waitForPort(clientSide);
    return { entryPort: clientSide, procs, stop: async () => { await Promise.all(procs.map((p) => p.stop())); } };
  },
};
