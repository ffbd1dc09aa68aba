// Trellis as the system under test: two `trellis proxy` processes from static Envoy bootstraps, chained.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, start, waitForPort } from "../lib/processes.js";
import type { Chain, Peer } from "./chain.js";

const CLI = "dist/src/cli/main.js";

function bootstrap(name: string, listenPort: number, nextPort: number, adminPort: number, readyPort: number): object {
  return {
    node: { id: name, cluster: name },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } },
    static_resources: {
      listeners: [{
        name: "bench",
        address: { socket_address: { address: "127.0.0.1", port_value: listenPort } },
        filter_chains: [{
          filters: [{
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: name,
              route_config: { name: "bench", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "next" } }] }] },
              http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
            },
          }],
        }],
      }],
      clusters: [{
        name: "next",
        type: "STATIC",
        connect_timeout: "1s",
        load_assignment: { cluster_name: "next", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: nextPort } } } }] }] },
      }],
    },
    readiness_port: readyPort,
  };
}

export const trellis: Peer = {
  name: "trellis",
  available: () => (existsSync("dist/src/cli/proxy.js") ? undefined : "trellis proxy is not built (npm run build)"),
  async startChain(backendPort): Promise<Chain> {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-"));
    const [serverSide, clientSide, a1, a2, r1, r2] = await Promise.all(Array.from({ length: 6 }, freePort));
    const write = (file: string, b: object) => {
      const { readiness_port: _r, ...rest } = b as { readiness_port: number };
      writeFileSync(join(dir, file), JSON.stringify(rest));
    };
    write("server.json", bootstrap("server-side", serverSide, backendPort, a1, r1));
    write("client.json", bootstrap("client-side", clientSide, serverSide, a2, r2));
    const procs = [
      start("trellis-server", process.execPath, [CLI, "proxy", "--bootstrap", join(dir, "server.json"), "--readiness-port", String(r1)]),
      start("trellis-client", process.execPath, [CLI, "proxy", "--bootstrap", join(dir, "client.json"), "--readiness-port", String(r2)]),
    ];
    await waitForPort(serverSide);
    await waitForPort(clientSide);
    return { entryPort: clientSide, procs, stop: async () => { await Promise.all(procs.map((p) => p.stop())); } };
  },
};
