// Issue #25 item 4, replayed against a control plane, a real sidecar and a WebSocket-speaking app: an Upgrade request
// goes through the same filters as any request, so a DENY on /private holds for `Upgrade: websocket` too, while an
// allowed WebSocket upgrade reaches the app through the sidecar (101) and is access-logged like a request.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-upgrade-"));
const accessLog = join(dir, "access.log");
let cp: ControlPlane;
let app: Server;
let sidecar: RunningProxy;
let inbound = 0;

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {}, mesh: { accessLogFile: accessLog, accessLogEncoding: "TEXT", enableTracing: false } });
  await cp.start();
  app = createServer((_req, res) => res.end("plain"));
  // A minimal WebSocket-style upgrade: 101, then echo.
  app.on("upgrade", (_req, socket) => {
    socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n");
    socket.on("data", (d) => socket.write(d));
    socket.on("end", () => socket.end()); // node's HTTP server keeps upgraded sockets half-open; a WebSocket peer closes
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  inbound = await freePort();
  sidecar = await startProxy(sidecarBootstrap(cp.ports.xds, "chat-v1", { NAMESPACE: "default", SERVICE: "chat", LABELS: { app: "chat", version: "v1" }, INSTANCE_IP: "127.0.0.1", INBOUND_PORT: inbound, APP_PORT: (app.address() as { port: number }).port, SERVICE_PORTS: [{ port: 8080, name: "http", protocol: "HTTP" }] }), { adminPort: 0, drainTimeoutMs: 100 });
  await until("the sidecar to sync", async () => sidecar.ready(), 20_000);
  const deny = { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "deny-private" }, spec: { selector: { matchLabels: { app: "chat" } }, action: "DENY", rules: [{ to: [{ operation: { paths: ["/private"] } }] }] } };
  const r = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/security.istio.io/v1/namespaces/default/authorizationpolicies`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(deny) });
  assert.equal(r.status, 201);
  await until("the DENY to hold", async () => (await fetch(`http://127.0.0.1:${inbound}/private`, { headers: { host: "chat" } }).then((x) => x.status, () => 0)) === 403, 15_000);
});

after(async () => {
  await sidecar?.stop();
  await cp?.stop();
  app?.closeAllConnections();
  await new Promise((r) => app?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Sends an Upgrade request and returns the status line and, after the upgrade, what an echo of "ping" gave back. */
function upgrade(path: string): Promise<{ status: string; echo: string }> {
  return new Promise((resolve) => {
    const s = connect(inbound, "127.0.0.1");
    let buf = "";
    const timer = setTimeout(() => { s.destroy(); resolve({ status: buf.split("\r\n")[0], echo: "" }); }, 10_000);
    s.on("data", (d) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const status = buf.split("\r\n")[0];
      if (!status.includes(" 101 ")) { clearTimeout(timer); s.destroy(); return resolve({ status, echo: "" }); }
      const rest = buf.slice(end + 4);
      if (rest === "") s.write("ping");
      else if (rest.length >= 4) { clearTimeout(timer); s.destroy(); resolve({ status, echo: rest }); }
    });
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(timer); resolve({ status: buf.split("\r\n")[0], echo: "" }); });
    s.write(`GET ${path} HTTP/1.1\r\nhost: chat\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  });
}

test("a request RBAC denies as a GET is denied as an Upgrade too", async () => {
  const r = await upgrade("/private");
  assert.match(r.status, / 403 /, r.status);
});

test("an allowed WebSocket upgrade works through the sidecar and is access-logged", async () => {
  const r = await upgrade("/chat");
  assert.match(r.status, / 101 /, r.status);
  assert.equal(r.echo, "ping");
  await until("the access log line", async () => /GET \/chat .*101/.test(readFileSync(accessLog, "utf8")) || /"GET \/chat[^"]*" 101/.test(readFileSync(accessLog, "utf8")), 10_000).catch(() => {
    throw new Error(`no access log line for the upgrade: ${readFileSync(accessLog, "utf8")}`);
  });
});
