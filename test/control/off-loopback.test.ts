// A control plane bound beyond loopback (--host 0.0.0.0): the REST API then needs the token from the state dir
// (created 0600), and the OTLP intake, which takes spans without authentication, stays on 127.0.0.1.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-off-loopback-"));
let cp: ControlPlane;

before(async () => {
  cp = new ControlPlane({ stateDir: dir, host: "0.0.0.0", xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
});

after(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The local addresses (hex, as /proc/net/tcp writes them) listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f[3] === "0A" && f[1]?.endsWith(`:${hexPort}`)).map((f) => f[1].split(":")[0]);
}

test("the REST API asks for the token; the token file is 0600", async () => {
  const url = `http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/default/virtualservices`;
  assert.equal((await fetch(url)).status, 401);
  const tokenFile = join(dir, "api-token");
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  const token = readFileSync(tokenFile, "utf8").trim();
  assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, 200);
});

test("the OTLP intake listens on loopback only, while the API listens everywhere", { skip: process.platform !== "linux" && "reads /proc/net/tcp" }, () => {
  assert.deepEqual(listeners(cp.ports.otlp), ["0100007F"]);
  assert.deepEqual(listeners(cp.ports.api), ["00000000"], "the API is bound on every address");
});
