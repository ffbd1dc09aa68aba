// The health port answering the kubelet's rewritten probes: each /app-health path runs the app's original probe
// (httpGet with its path and headers, tcpSocket) against a real app on loopback and answers 200 or 503 with why.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { appHealth, parseAppProbers } from "./app-probers.js";

let app: Server;
let health: Server;
let appPort = 0;
let healthPort = 0;
let ready = false;

before(async () => {
  app = createServer((req, res) => {
    if (req.url === "/ready") return res.writeHead(ready && req.headers["x-probe"] === "yes" ? 200 : 503).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  appPort = (app.address() as AddressInfo).port;
  const parsed = parseAppProbers(JSON.stringify({
    "/app-health/web/readyz": { httpGet: { path: "/ready", port: appPort, scheme: "HTTP", httpHeaders: [{ name: "x-probe", value: "yes" }] }, timeoutSeconds: 2 },
    "/app-health/web/livez": { tcpSocket: { port: appPort }, timeoutSeconds: 2 },
    "/app-health/gone/livez": { tcpSocket: { port: 1 }, timeoutSeconds: 2 },
  }));
  assert.ok(parsed.ok);
  health = createServer((req, res) => {
    if (!appHealth(parsed.value, "127.0.0.1", req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => health.listen(0, "127.0.0.1", r));
  healthPort = (health.address() as AddressInfo).port;
});
after(() => {
  app?.close();
  health?.close();
});

const probe = (path: string) => fetch(`http://127.0.0.1:${healthPort}${path}`).then(async (r) => ({ status: r.status, body: await r.text() }));

test("httpGet: the app's answer decides, with the probe's own path and headers", async () => {
  assert.equal((await probe("/app-health/web/readyz")).status, 503);
  ready = true;
  assert.equal((await probe("/app-health/web/readyz")).status, 200);
});

test("tcpSocket: a connection decides; a refused one says why", async () => {
  assert.equal((await probe("/app-health/web/livez")).status, 200);
  const down = await probe("/app-health/gone/livez");
  assert.equal(down.status, 503);
  assert.match(down.body, /ECONNREFUSED/);
});

test("paths that are not probers are not answered; bad prober JSON is refused by path", async () => {
  assert.equal((await probe("/app-health/other/readyz")).status, 404);
  const bad = parseAppProbers(JSON.stringify({ "/app-health/web/readyz": { exec: { command: ["true"] } } }));
  assert.deepEqual(bad, { ok: false, error: 'ISTIO_KUBE_APP_PROBERS["/app-health/web/readyz"] needs httpGet {port, path, scheme HTTP|HTTPS} or tcpSocket {port}' });
  assert.equal(parseAppProbers('{"/healthz": {}}').ok, false);
});
