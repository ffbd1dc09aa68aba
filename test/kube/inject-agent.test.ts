// The injected sidecar's agent side without a cluster: the bootstrap `trellis proxy sidecar` makes from the env the
// injector sets (node id and metadata as the control plane matches pods, xDS over TLS to the discovery address) is a
// valid one; a missing variable is named; `trellis proxy wait` returns once readiness answers 200, fails after its
// timeout.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDownwardLabels, podAgentEnv, podBootstrap } from "../../src/proxy/agent/pod-bootstrap.js";
import { readBootstrap } from "../../src/proxy/bootstrap.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-inject-agent-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const env = { POD_NAME: "web-1", POD_NAMESPACE: "shop", INSTANCE_IP: "10.244.0.7", SERVICE_ACCOUNT: "web", PROXY_CONFIG: JSON.stringify({ discoveryAddress: "istiod.istio-system.svc:15012" }), ISTIO_META_CLUSTER_ID: "Kubernetes", ISTIO_META_INTERCEPTION_MODE: "REDIRECT" };

test("the bootstrap from the injected env names the pod and dials the discovery address over TLS", () => {
  const labels = parseDownwardLabels('app="web"\nversion="v1"\nnote="say \\"hi\\""\n');
  assert.deepEqual(labels, { app: "web", version: "v1", note: 'say "hi"' });
  const e = podAgentEnv({ ...env, ISTIO_META_WORKLOAD_NAME: "web" }, { rootsFile: "/var/run/secrets/istio/root-cert.pem", labels });
  const b = podBootstrap(e) as { node: { id: string; metadata: Record<string, unknown> }; static_resources: { clusters: Array<Record<string, any>> } }; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(b.node.id, "sidecar~10.244.0.7~web-1.shop~shop.svc.cluster.local");
  assert.equal(b.node.metadata.CLUSTER_ID, "Kubernetes");
  assert.equal(b.node.metadata.WORKLOAD_NAME, "web");
  assert.deepEqual(b.node.metadata.LABELS, { app: "web", version: "v1", note: 'say "hi"' });
  assert.equal(b.node.metadata.INTERCEPTION_MODE, "REDIRECT");
  assert.equal(b.node.metadata.STATS_ADDRESS, "10.244.0.7:15020");
  const xds = b.static_resources.clusters[0];
  assert.equal(xds.type, "STRICT_DNS");
  assert.equal(xds.transport_socket.typed_config.sni, "istiod.istio-system.svc");
  // By IP (a test's gateway): STATIC, and the control plane's certificate name kept as SNI.
  const byIp = podBootstrap(podAgentEnv({ ...env, PROXY_CONFIG: JSON.stringify({ discoveryAddress: "10.244.0.1:15012" }) }, { rootsFile: "/r.pem" })) as typeof b;
  assert.equal(byIp.static_resources.clusters[0].type, "STATIC");
  assert.equal(byIp.static_resources.clusters[0].transport_socket.typed_config.sni, "istiod.istio-system.svc");
  const file = join(dir, "envoy-rev.json");
  writeFileSync(file, JSON.stringify(b));
  const parsed = readBootstrap(file);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
});

test("a missing or malformed variable is named", () => {
  assert.throws(() => podAgentEnv({ ...env, INSTANCE_IP: undefined }, { rootsFile: "/r" }), /INSTANCE_IP is not set; the injector sets it/);
  assert.throws(() => podAgentEnv({ ...env, PROXY_CONFIG: "{" }, { rootsFile: "/r" }), /PROXY_CONFIG is not JSON/);
  assert.throws(() => podAgentEnv({ ...env, PROXY_CONFIG: JSON.stringify({ discoveryAddress: "istiod" }) }, { rootsFile: "/r" }), /discoveryAddress "istiod" must be HOST:PORT/);
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "proxy", "sidecar"], { encoding: "utf8", env: { PATH: process.env.PATH } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /environment variable POD_NAMESPACE is not set/);
});

test("trellis proxy wait returns once readiness answers 200, and fails after its timeout", async () => {
  let readyAfter = 2;
  const server = createServer((_req, res) => res.writeHead(--readyAfter <= 0 ? 200 : 503).end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz/ready`;
  const code = (args: string[]) => new Promise<number | null>((resolve) => spawn(process.execPath, ["dist/src/cli/main.js", "proxy", "wait", ...args], { stdio: "ignore" }).once("exit", resolve));
  try {
    assert.equal(await code(["--url", url, "--timeout-seconds", "60"]), 0);
    server.close();
    assert.equal(await code(["--url", url, "--timeout-seconds", "1"]), 1);
  } finally {
    server.close();
  }
});
