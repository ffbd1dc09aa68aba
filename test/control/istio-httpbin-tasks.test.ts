// Istio's httpbin tasks in explicit mode: real sidecars in this process, connected to an in-process control plane.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../../src/app/control-plane.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { httpbinHandler } from "../fixtures/httpbin.js";
import { freePort, sidecarBootstrap } from "./mesh-harness.js";
import { httpbinTasks, type Call } from "./httpbin-tasks-suite.js";

httpbinTasks(async () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-httpbin-"));
  const cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  const proxies: RunningProxy[] = [];
  const servers: Server[] = [];
  const appPorts: Record<string, number> = {};
  const meta = { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1" };
  for (const version of ["v1", "v2"]) {
    const server = createServer(httpbinHandler(version));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
    appPorts[version] = (server.address() as { port: number }).port;
    proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, `httpbin-${version}`, { ...meta, SERVICE: "httpbin", SERVICE_ACCOUNT: "httpbin", LABELS: { app: "httpbin", version }, INBOUND_PORT: await freePort(), APP_PORT: appPorts[version], SERVICE_PORTS: [{ port: 8000, name: "http", protocol: "HTTP" }] }), { adminPort: 0, drainTimeoutMs: 100 }));
  }
  const [local, clientAdmin] = [await freePort(), await freePort()];
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "fortio-v1", { ...meta, SERVICE_ACCOUNT: "fortio", LABELS: { app: "fortio", version: "v1" }, UPSTREAMS: [{ host: "httpbin", port: 8000, localPort: local }], ADMIN_ADDRESS: `127.0.0.1:${clientAdmin}` }), { adminPort: clientAdmin, drainTimeoutMs: 100 }));
  const one = async (path: string): Promise<Call> => {
    try {
      const res = await fetch(`http://127.0.0.1:${local}${path}`, { signal: AbortSignal.timeout(20_000) });
      return { status: res.status, body: await res.text(), overloaded: res.headers.get("x-envoy-overloaded") === "true" };
    } catch (err) {
      return { status: 0, body: (err as Error).message, overloaded: false };
    }
  };
  return {
    api: cp.ports.api, clientAdmin,
    call: (path, n = 1) => Promise.all(Array.from({ length: n }, () => one(path))),
    // Straight from the app, past its sidecar.
    seen: async (version) => (await (await fetch(`http://127.0.0.1:${appPorts[version]}/seen`)).json()) as Array<{ path: string; host: string }>,
    stop: async () => {
      for (const p of proxies) await p.stop();
      await cp.stop();
      for (const s of servers) { s.closeAllConnections(); s.close(); }
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
