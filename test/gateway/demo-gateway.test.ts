// `trellis demo` runs an ingress gateway and prints its address; Istio's bookinfo-gateway.yaml then serves
// /productpage through it (other paths 404), and the mesh-wide STRICT PeerAuthentication keeps the page working.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CliProcesses } from "../fixtures/cli-process.js";
import { httpGet } from "../fixtures/gateway-mesh.js";
import { until } from "../fixtures/until.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-demo-gateway-"));
const processes = new CliProcesses();
after(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

function apply(api: string, file: string): void {
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "apply", "-f", file, "--control", `127.0.0.1:${api}`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr + r.stdout);
}

test("trellis demo: the ingress gateway serves Bookinfo's product page once bookinfo-gateway.yaml is applied", async () => {
  const { match } = await processes.start(["demo", "--state-dir", join(dir, "state"), "--xds-port", "0", "--api-port", "0", "--otlp-port", "0", "--console-port", "0", "--gateway-port", "0", "--traffic", "0"],
    /TRELLIS_CONTROL=127\.0\.0\.1:(\d+)[\s\S]*Bookinfo is ready[\s\S]*ingress gateway: http:\/\/127\.0\.0\.1:(\d+)\//, 120_000);
  const [api, port] = [match[1], Number(match[2])];
  // Before any Gateway selects it, the gateway serves nothing.
  await assert.rejects(httpGet(port, "bookinfo.example.com", "/productpage"));
  apply(api, "examples/istio/bookinfo/bookinfo-gateway.yaml");
  let last = "";
  await until("/productpage through the gateway", async () => {
    const r = await httpGet(port, "bookinfo.example.com", "/productpage").catch((e: Error) => ({ status: 0, body: e.message }));
    last = `${r.status} ${r.body.slice(0, 200)}`;
    return r.status === 200;
  }, 60_000).catch((e: Error) => { throw new Error(`${e.message}; last answer: ${last}`); });
  const page = await httpGet(port, "bookinfo.example.com", "/productpage");
  assert.match(page.body, /The Comedy of Errors/);
  assert.equal((await httpGet(port, "bookinfo.example.com", "/not-bookinfo")).status, 404);
  apply(api, "examples/istio/bookinfo/peer-authentication.yaml");
  for (let i = 0; i < 10; i++) {
    const r = await httpGet(port, "bookinfo.example.com", "/productpage");
    assert.equal(r.status, 200);
    assert.match(r.body, /The Comedy of Errors/);
    await new Promise((res) => setTimeout(res, 300));
  }
});
