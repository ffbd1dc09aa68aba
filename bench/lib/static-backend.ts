// A backend cheap enough not to be what a throughput run measures: nginx answering 1 KB from memory (`return 200`),
// one worker, pinned beside the load generator. Without nginx, the Node backend (about half the rate on one core).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type Proc, start, waitForPort } from "./processes.js";

export interface StaticBackend { port: number; kind: "nginx" | "node"; proc: Proc }

function hasNginx(): boolean {
  try {
    execFileSync("nginx", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function startStaticBackend(cpus: string): Promise<StaticBackend> {
  const port = await freePort();
  let backend: StaticBackend;
  if (hasNginx()) {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-static-"));
    writeFileSync(join(dir, "backend.conf"), `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / { default_type text/plain; return 200 "${"x".repeat(1024)}"; }
  }
}
`);
    backend = { port, kind: "nginx", proc: start("static-backend", "nginx", ["-p", dir, "-c", join(dir, "backend.conf")], {}, cpus) };
  } else {
    backend = { port, kind: "node", proc: start("backend", process.execPath, ["dist/bench/lib/backend.js"], { PORT: String(port) }, cpus) };
  }
  await waitForPort(port);
  return backend;
}
