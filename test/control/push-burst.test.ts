// A burst of 1,000 writes through the REST API is debounced into a few pushes, not queued into a thousand, and the
// connected sidecar ends up holding all of them; each write answers while the store grows to a thousand. One control
// plane and one ADS client (the proxy's own) for the file, on loopback; waits are bounded.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { AdsClient } from "../../src/xds/ads-client.js";
import { until } from "../fixtures/until.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-burst-"));
const cp = new ControlPlane({ stateDir: dir, xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 100, debounceMaxMs: 1000, log: () => {} });
let client: AdsClient | undefined;
after(async () => {
  client?.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

const WRITES = 1000;
const entry = (i: number) => ({
  apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: `svc-${i}`, namespace: "burst" },
  spec: { hosts: [`svc-${i}.burst.svc.cluster.local`], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 8080, name: "http", protocol: "HTTP" }], endpoints: [{ address: `127.4.${i >> 8}.${i & 255}` }] },
});

test("1,000 writes become a few pushes and the sidecar holds every service", { timeout: 300_000 }, async (t) => {
  await cp.start();
  let clusters = -1;
  client = new AdsClient({
    target: `127.0.0.1:${cp.ports.xds}`,
    node: { id: "sidecar~127.0.0.1~app-1.burst~burst.svc.cluster.local", cluster: "app.burst", metadata: { NAMESPACE: "burst", SERVICE: "app", LABELS: { app: "app" }, INSTANCE_IP: "127.0.0.1", INBOUND_PORT: 15006, APP_PORT: 8080, SERVICE_PORTS: [{ port: 8080, name: "http", protocol: "HTTP" }], INTERCEPTION_MODE: "REDIRECT", READY: true } },
    subscriptions: () => ({ endpoint: [], route: [], secret: [] }),
    apply: (kind, resources) => {
      if (kind === "cluster") clusters = [...resources.keys()].filter((n) => n.startsWith("outbound|8080||svc-")).length;
      return { ok: true, value: undefined };
    },
  });
  client.start();
  await until("the sidecar is configured", async () => clusters === 0);
  const before = cp.debouncer.stats.pushes;
  const started = Date.now();
  let slowest = 0;
  let next = 0;
  const worker = async () => {
    while (next < WRITES) {
      const i = next++;
      const t = Date.now();
      const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/burst/serviceentries`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(entry(i)) });
      assert.equal(res.status, 201, await res.text());
      slowest = Math.max(slowest, Date.now() - t);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const writingMs = Date.now() - started;
  await until(`the sidecar holds ${WRITES} services (has ${clusters})`, async () => clusters === WRITES, 120_000);
  const pushes = cp.debouncer.stats.pushes - before;
  // At most one push per maxMs while the burst lasts, plus the one after it settles (and slack for a slow machine).
  const bound = Math.ceil(writingMs / 1000) + 3;
  t.diagnostic(`${WRITES} writes in ${writingMs} ms (slowest ${slowest} ms) made ${pushes} pushes`);
  assert.ok(pushes >= 1 && pushes <= Math.min(bound, WRITES / 10), `${WRITES} writes in ${writingMs} ms made ${pushes} pushes (bound ${bound}); slowest write ${slowest} ms`);
});
