// nginx as the peer: two single-worker processes chained, with upstream keep-alive, as a mesh hop would be. nginx's
// proxy_pass speaks only HTTP/1.1 upstream: HTTP/2 enters the chain as h2c and travels on as HTTP/1.1 keep-alive,
// while gRPC stays HTTP/2 end to end through grpc_pass; TCP goes through the stream module.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, start } from "../lib/processes.js";
import { type Chain, listening, type Peer, type Protocol } from "./chain.js";
import { meshCerts, type MeshCerts } from "../lib/mesh-certs.js";

/** `tls.in`: the listener requires a client certificate from the root; `tls.out`: the next hop is dialled over mTLS. */
/** Debian ships the stream (TCP) module separately, as libnginx-mod-stream. */
const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

function head(dir: string, listenPort: number): string {
  return `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx-${listenPort}.pid;
error_log stderr error;
events { worker_connections 4096; }
`;
}

function streamConfig(dir: string, listenPort: number, nextPort: number): string {
  return `load_module ${STREAM_MODULE};
${head(dir, listenPort)}stream {
  upstream next { server 127.0.0.1:${nextPort}; }
  server { listen 127.0.0.1:${listenPort}; proxy_pass next; }
}
`;
}

/** The entry proxy listens for HTTP/2 (h2c, prior knowledge); a chain's server-side one receives what proxy_pass sends. */
function config(dir: string, listenPort: number, nextPort: number, protocol: Protocol, entry: boolean, tls?: { certs: MeshCerts; in: boolean; out: boolean }): string {
  if (protocol === "tcp") return streamConfig(dir, listenPort, nextPort);
  const http2 = protocol === "grpc" || (protocol === "h2" && entry) ? " http2" : "";
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
  const pass = protocol === "grpc" ? `
      grpc_pass grpc://next;` : `
      proxy_pass ${tls?.out ? "https" : "http"}://next;${upstreamTls}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;`;
  return `${head(dir, listenPort)}http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream next { server 127.0.0.1:${nextPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${listenPort}${listen}${http2};
    keepalive_requests 100000;
    location / {${pass}
    }
  }
}
`;
}

export const nginx: Peer = {
  name: "nginx",
  available(protocol) {
    try {
      execFileSync("nginx", ["-v"], { stdio: "ignore" });
    } catch {
      return "nginx is not installed (run scripts/install-peers.sh)";
    }
    if (protocol === "tcp" && !existsSync(STREAM_MODULE)) return `nginx's stream module is not installed (${STREAM_MODULE}; run scripts/install-peers.sh)`;
    return undefined;
  },
  async startChain(backendPort, options): Promise<Chain> {
    const protocol = options.protocol ?? "http1";
    if (options.tls && protocol !== "http1") throw new Error(`nginx peer: mutual TLS is set up for http1 only, not ${protocol}`);
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-nginx-"));
    const certs = options.tls ? await meshCerts() : undefined;
    for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
    const single = options.hops === 1;
    const serverSide = await freePort();
    if (protocol === "h2" && options.http1BackendPort === undefined) throw new Error("nginx peer: HTTP/2 needs http1BackendPort (nginx proxies HTTP/1.1 upstream)");
    const next = protocol === "h2" ? options.http1BackendPort! : backendPort;
    writeFileSync(join(dir, "server.conf"), config(dir, serverSide, next, protocol, single, certs && { certs, in: true, out: false }));
    const procs = [start("nginx-server", "nginx", ["-p", dir, "-c", join(dir, "server.conf")], {}, options.cpus)];
    let entryPort = serverSide;
    if (!single) {
      entryPort = await freePort();
      writeFileSync(join(dir, "client.conf"), config(dir, entryPort, serverSide, protocol, true, certs && { certs, in: false, out: true }));
      procs.push(start("nginx-client", "nginx", ["-p", dir, "-c", join(dir, "client.conf")], {}, options.cpus));
    }
    await listening(procs, [serverSide, entryPort]);
    return { entryPort, serverPort: serverSide, procs, stop: async () => { await Promise.all(procs.map((p) => p.stop())); } };
  },
};
