// Joins a workload's network namespace to the host without giving it a route: connections to a TCP port on one side
// are carried over a Unix socket (files are visible from every network namespace) to a TCP port on the other. The
// sidecar inside reaches the control plane's loopback ports this way, and the control plane reaches the sidecar's
// admin and metrics ports; nothing is exposed beyond loopback on either side.
import { createServer, connect, type Server, type Socket } from "node:net";
import { rmSync } from "node:fs";

const CONNECT_TIMEOUT_MS = 10_000;

export type Endpoint = { port: number; host?: string } | { path: string };

function dial(to: Endpoint): Socket {
  return "path" in to ? connect({ path: to.path }) : connect({ host: to.host ?? "127.0.0.1", port: to.port });
}

/** Listens on `from` and splices each connection to `to`; resolves once listening (with the bound TCP port). */
export function forward(from: Endpoint, to: Endpoint): Promise<{ server: Server; port?: number }> {
  const server = createServer({ allowHalfOpen: true }, (down) => {
    down.pause();
    const up = dial(to);
    // A target that never answers (a namespace not wired yet) must not hold the caller forever.
    up.setTimeout(CONNECT_TIMEOUT_MS, () => up.destroy());
    up.once("connect", () => {
      up.setTimeout(0);
      down.pipe(up);
      up.pipe(down);
      down.resume();
    });
    const close = () => { up.destroy(); down.destroy(); };
    up.once("error", close);
    down.once("error", close);
    up.once("close", close);
    down.once("close", close);
  });
  if ("path" in from) rmSync(from.path, { force: true });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      const a = server.address();
      resolve({ server, port: typeof a === "object" && a ? a.port : undefined });
    };
    if ("path" in from) server.listen(from.path, done);
    else server.listen(from.port, from.host ?? "127.0.0.1", done);
  });
}
