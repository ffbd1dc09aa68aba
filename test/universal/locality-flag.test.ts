// `trellis run --locality`: the sidecar's bootstrap node carries the locality (the control plane reads it over xDS).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { localityNode, sidecarBootstrap, type WorkloadSpec } from "../../src/universal/workload-spec.js";
import { parseMessage } from "../../src/xds/resource.js";
import type { Bootstrap__Output } from "../../src/xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";

const spec: WorkloadSpec = { service: "svc", namespace: "default", labels: {}, serviceAccount: "svc", servicePort: 8080, protocol: "HTTP", upstreams: [], xdsAddress: "127.0.0.1:15010" };
const ports = { app: 1, inbound: 2, admin: 3, readiness: 4, stats: 5 };

test("the bootstrap node gets the locality; without the flag it has none", () => {
  const parsed = parseMessage<Bootstrap__Output>("envoy.config.bootstrap.v3.Bootstrap", sidecarBootstrap({ ...spec, locality: "us-east/us-east-1a/rack7" }, ports, "svc-1"));
  assert.ok(parsed.ok);
  assert.deepEqual({ ...parsed.value.node!.locality }, { region: "us-east", zone: "us-east-1a", sub_zone: "rack7" });
  const plain = sidecarBootstrap(spec, ports, "svc-1") as { node: Record<string, unknown> };
  assert.equal(plain.node.locality, undefined);
  assert.deepEqual(localityNode("eu"), { region: "eu", zone: "", sub_zone: "" });
});

test("a malformed --locality is refused before anything starts, naming the flag and the form", () => {
  assert.throws(() => localityNode("a/b/c/d"), /--locality "a\/b\/c\/d" must be REGION\[\/ZONE\[\/SUBZONE\]\]/);
  assert.throws(() => localityNode("/zone"), /--locality/);
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "run", "--service", "svc", "--port", "8080", "--locality", "us east", "--", "true"], { encoding: "utf8", timeout: 20_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /trellis run: --locality "us east" must be REGION\[\/ZONE\[\/SUBZONE\]\]/);
});
