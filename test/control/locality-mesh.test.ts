// Locality load balancing end to end: a control plane, backend sidecars in two zones (their xDS node localities),
// and a client sidecar in one of them. distribute splits traffic 80/20; failover keeps it local until outlier
// detection ejects the local endpoint, then moves it to the other zone.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { backend, get } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "./mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-locality-"));
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

test("distribute and failover across two zones, configured by the control plane from each proxy's locality", async () => {
  const cp = new ControlPlane({ stateDir: join(dir, "mesh"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
  cleanup.unshift(() => cp.stop());
  let localFails = false;
  const local = await backend((_q, s) => s.writeHead(localFails ? 503 : 200, { "content-type": "application/json" }).end(JSON.stringify({ name: "local" })));
  const remote = await backend((_q, s) => s.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "remote" })));
  cleanup.push(() => local.close(), () => remote.close());
  const [inLocal, inRemote, clientPort] = [await freePort(), await freePort(), await freePort()];
  const sidecar = async (id: string, zone: string, meta: Record<string, unknown>) => {
    const b = sidecarBootstrap(cp.ports.xds, id, { NAMESPACE: "default", SERVICE_ACCOUNT: "default", INSTANCE_IP: "127.0.0.1", ...meta });
    b.node!.locality = { region: "r1", zone, sub_zone: "" };
    const p = await startProxy(b, { adminPort: 0, drainTimeoutMs: 100 });
    cleanup.unshift(() => p.stop());
  };
  const ports = [{ port: 8080, name: "http", protocol: "HTTP" }];
  await sidecar("svc-a", "za", { SERVICE: "svc", LABELS: { app: "svc" }, INBOUND_PORT: inLocal, APP_PORT: local.port, SERVICE_PORTS: ports });
  await sidecar("svc-b", "zb", { SERVICE: "svc", LABELS: { app: "svc" }, INBOUND_PORT: inRemote, APP_PORT: remote.port, SERVICE_PORTS: ports });
  await sidecar("client", "za", { SERVICE: "client", LABELS: { app: "client" }, UPSTREAMS: [{ host: "svc", port: 8080, localPort: clientPort }] });
  const url = `http://127.0.0.1:${clientPort}/`;
  const spread = async (n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i += 10) {
      for (const r of await Promise.all(Array.from({ length: 10 }, () => get(url).catch(() => undefined)))) {
        const name = r?.status === 200 ? String(r.json().name) : String(r?.status ?? "error");
        counts[name] = (counts[name] ?? 0) + 1;
      }
    }
    return counts;
  };
  await until("both zones to answer", async () => { const c = await spread(20); return !!c.local && !!c.remote; });

  const dr = (trafficPolicy: Record<string, unknown>) => ({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "svc", namespace: "default" }, spec: { host: "svc", trafficPolicy } });
  cp.store.put(dr({ loadBalancer: { localityLbSetting: { distribute: [{ from: "r1/za/*", to: { "r1/za/*": 80, "r1/zb/*": 20 } }] } } }) as never);
  await until("the locality weights to arrive", async () => ((await spread(50)).local ?? 0) >= 35);
  const weighted = await spread(300);
  assert.ok(Math.abs((weighted.local ?? 0) - 240) <= 30, `za got ${weighted.local} of 300, want about 240 (80%)`);
  assert.ok(Math.abs((weighted.remote ?? 0) - 60) <= 30, `zb got ${weighted.remote} of 300, want about 60 (20%)`);

  // Failover (Istio's default with outlier detection): the client's own zone is priority 0.
  cp.store.put(dr({ outlierDetection: { consecutive5xxErrors: 2, interval: "1s", baseEjectionTime: "30s", maxEjectionPercent: 100 } }) as never);
  await until("all traffic to stay in the client's zone", async () => (await spread(20)).local === 20);
  localFails = true;
  const before = local.hits;
  // Istio's default retries (503 is retriable, on another host) hide the two failures that eject the local endpoint.
  assert.deepEqual(await spread(10), { remote: 10 });
  assert.ok(local.hits - before >= 2, `the local endpoint was tried until ejected (${local.hits - before} tries)`);
  const ejected = local.hits;
  assert.deepEqual(await spread(30), { remote: 30 }, "ejected: everything fails over to the other zone");
  assert.equal(local.hits, ejected, "no request reaches the ejected endpoint");
});
