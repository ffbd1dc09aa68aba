// Certificate rotation without dropping a connection: sidecars with certificates of a few seconds renew them while a
// response streams over mutual TLS; the stream finishes whole although the certificate that opened it expired, and
// connections opened afterwards handshake with the fresh ones.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { scopeFor } from "../fixtures/token-scope.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";
import type { Backend } from "../proxy/harness.js";
import { streamingApp } from "../fixtures/streaming-app.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-rotation-"));
let cp: ControlPlane;
let app: Backend;
const proxies: RunningProxy[] = [];
let local = 0;
let serverAdmin = 0;
const CHUNKS = 30;

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  // /stream sends a line every 200 ms for six seconds.
  app = await streamingApp(CHUNKS);
  const tokens = TokenIssuer.open(join(dir, "state", "ca", "token-key"), "cluster.local");
  const rootsPem = readFileSync(join(dir, "state", "ca", "root-cert.pem"), "utf8");
  local = await freePort();
  serverAdmin = await freePort();
  const meta = { NAMESPACE: "default", INSTANCE_IP: "127.0.0.1", MTLS_READY: true };
  // Four-second certificates: the CA backdates notBefore by a minute for clock skew, so half their lifetime is past
  // when they are issued and the sidecars renew every second; each expires before the six-second stream ends.
  const ca = (sa: string) => ({ address: `127.0.0.1:${cp.ports.ca}`, rootsPem, token: () => tokens.issue("default", sa, 600, Date.now(), scopeFor(sa, { version: "v1" })), ttlSeconds: 4 });
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "reviews-v1", { ...meta, SERVICE: "reviews", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v1" }, INBOUND_PORT: await freePort(), APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }], ADMIN_ADDRESS: `127.0.0.1:${serverAdmin}` }), { adminPort: serverAdmin, drainTimeoutMs: 100, ca: ca("reviews") }));
  proxies.push(await startProxy(sidecarBootstrap(cp.ports.xds, "productpage-v1", { ...meta, SERVICE_ACCOUNT: "productpage", LABELS: { app: "productpage", version: "v1" }, UPSTREAMS: [{ host: "reviews", port: 9080, localPort: local }] }), { adminPort: 0, drainTimeoutMs: 100, ca: ca("productpage") }));
  await until("the mesh to serve over mTLS", async () => (await fetch(`http://127.0.0.1:${local}/ok`).then((r) => r.status, () => 0)) === 200, 15_000);
});

after(async () => {
  for (const p of proxies) await p.stop();
  await cp?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function current(): Promise<{ serial: string; expiration_time: string }> {
  const certs = (await (await fetch(`http://127.0.0.1:${serverAdmin}/certs`)).json()) as { certificates: Array<{ name: string; serial: string; expiration_time: string }> };
  return certs.certificates.find((c) => c.name === "default")!;
}

test("a response streaming over mTLS outlives several rotations; new connections use the new certificates", async () => {
  const first = await current();
  const serials = new Set<string>([first.serial]);
  const res = await fetch(`http://127.0.0.1:${local}/stream`);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
    serials.add((await current()).serial);
  }
  assert.equal(text.split("\n").filter(Boolean).length, CHUNKS, "every chunk arrived on the connection opened before the rotations");
  assert.ok(serials.size >= 2, `the server's certificate rotated during the stream (${serials.size} serials seen)`);
  assert.ok(Date.parse(first.expiration_time) < Date.now(), `the connection outlived the certificate it was opened with (expired ${first.expiration_time})`);
  // The certificate the stream started with has expired by now: fresh connections must handshake with new ones.
  const statuses = await Promise.all(Array.from({ length: 6 }, () => fetch(`http://127.0.0.1:${local}/ok`).then((r) => r.status, () => 0)));
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
});
