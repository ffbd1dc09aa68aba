// The control-plane scenarios measure what they claim: the real `trellis control` (CA on) registers the fleet's
// simulated sidecars as workloads from their node metadata and token, every sidecar holds the whole mesh, and a
// VirtualService change written through the REST API is ACKed by every sidecar, each at a time after the write.
// No timing is asserted; a small mesh keeps the file fast.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withMesh } from "../../bench/lib/control-mesh.js";

test("a fleet of real ADS clients registers as sidecars, syncs the mesh and ACKs a pushed change", async () => {
  // 4 sidecars serve app-0..app-3; 2 ServiceEntries with 2 endpoints each make 6 services.
  await withMesh({ services: 6, endpointsPerService: 2, proxies: 4 }, async (mesh) => {
    assert.equal(mesh.sync.clusters, 6, "every service reaches every sidecar (transparent mode)");
    assert.ok(mesh.sync.routes >= 6, `a route per service: ${mesh.sync.routes}`);
    const proxies = (await mesh.control.api("GET", "/debug/proxies")).body as unknown as Array<{ node: { id: string }; identity?: string; workload?: { service?: string } }>;
    assert.equal(proxies.length, 4);
    assert.deepEqual(proxies.map((p) => p.workload?.service).sort(), ["app-0", "app-1", "app-2", "app-3"]);
    assert.ok(proxies.every((p) => p.identity === "spiffe://cluster.local/ns/bench/sa/bench"), "each stream proved its identity with the token");
    for (const marker of ["first", "second"]) {
      const s = await mesh.push(marker);
      assert.equal(s.missing, 0, `every sidecar ACKed "${marker}"`);
      assert.ok(s.firstMs > 0 && s.firstMs <= s.halfMs && s.halfMs <= s.lastMs, `ordered ACK times after the write: ${JSON.stringify(s)}`);
      assert.ok(s.cpuSeconds >= 0 && s.peakRssMiB > 0);
    }
  });
});
