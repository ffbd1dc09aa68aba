// Issue #25 item 3, replayed from headless Chromium: a page on another loopback origin posts the poison write and a
// root rotation to the REST API and the console API (text/plain, no-cors: what browsers send without asking). Nothing
// is stored and no rotation starts; a request naming a foreign Host (DNS rebinding) is refused; the console's own
// same-origin JSON writes still work.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { ControlPlane } from "../../src/app/control-plane.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `Chromium is not installed (${CHROMIUM})`;
const dir = mkdtempSync(join(tmpdir(), "trellis-cross-origin-"));
let cp: ControlPlane;
let attacker: Server;
let attackerPort = 0;
let browser: Browser | undefined;
const VS_PATH = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";
const poison = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "from-a-page" }, spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] } };

before(async () => {
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, consolePort: 0, traceSamplingPercent: 0, log: () => {} });
  await cp.start();
  attacker = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>cute cats</title>"));
  await new Promise<void>((r) => attacker.listen(0, "127.0.0.1", r));
  attackerPort = (attacker.address() as { port: number }).port;
  if (!skip) browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
});

after(async () => {
  await browser?.close();
  attacker?.closeAllConnections();
  await new Promise((r) => attacker?.close(r));
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a page on another origin cannot write through the REST API or the console, nor start a root rotation", { skip }, async () => {
  const page = await browser!.newPage();
  await page.goto(`http://127.0.0.1:${attackerPort}/`);
  const targets = [`http://127.0.0.1:${cp.ports.api}`, `http://localhost:${cp.ports.console}`];
  await page.evaluate(async ({ targets, vsPath, body }) => {
    for (const base of targets) {
      // Simple requests: no preflight, so before the fix they reached the handler and were parsed as JSON.
      await fetch(base + vsPath, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body }).catch(() => {});
      await fetch(base + "/api/v1/ca/root-rotation", { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: JSON.stringify({ action: "start" }) }).catch(() => {});
      // A preflighted JSON write: the browser asks first and is never granted.
      await fetch(base + vsPath, { method: "POST", headers: { "content-type": "application/json" }, body }).catch(() => {});
      await fetch(base + vsPath + "/anything", { method: "DELETE", mode: "no-cors" }).catch(() => {});
    }
  }, { targets, vsPath: VS_PATH, body: JSON.stringify(poison) });
  assert.deepEqual(cp.store.list("VirtualService"), [], "nothing stored");
  const ca = await (await fetch(`http://127.0.0.1:${cp.ports.api}/api/v1/ca`)).json() as { rotating: boolean };
  assert.equal(ca.rotating, false, "no root rotation started");
  await page.close();
});

test("the console's own page still writes (same origin, application/json)", { skip }, async () => {
  const page = await browser!.newPage();
  await page.goto(`http://127.0.0.1:${cp.ports.console}/`);
  const status = await page.evaluate(async ({ vsPath, body }) => (await fetch(vsPath, { method: "POST", headers: { "content-type": "application/json" }, body })).status, { vsPath: VS_PATH, body: JSON.stringify({ ...poison, metadata: { name: "from-the-console" } }) });
  assert.equal(status, 201);
  assert.deepEqual(cp.store.list("VirtualService").map((r) => r.metadata.name), ["from-the-console"]);
  await page.close();
});

function get(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on("error", reject).end();
  });
}

test("requests naming a Host we do not serve are refused (DNS rebinding); loopback names and IPs are answered", async () => {
  for (const port of [cp.ports.api, cp.ports.console]) {
    assert.equal(await get(port, "/debug/proxies", "attacker.example"), 403);
    assert.equal(await get(port, "/debug/proxies", `attacker.example:${port}`), 403);
    assert.equal(await get(port, "/debug/proxies", `localhost:${port}`), 200);
    assert.equal(await get(port, "/debug/proxies", `127.0.0.1:${port}`), 200);
    assert.equal(await get(port, "/debug/proxies", `[::1]:${port}`), 200);
  }
  assert.equal(await get(cp.ports.console, "/", "attacker.example"), 403, "the console's pages too");
});

test("a text/plain write is refused even without an Origin (415), and a cross-origin one names the origin", async () => {
  const post = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${cp.ports.api}${VS_PATH}`, { method: "POST", headers, body: JSON.stringify(poison) });
  const plain = await post({ "content-type": "text/plain" });
  assert.equal(plain.status, 415);
  const cross = await post({ "content-type": "application/json", origin: "http://evil.example" });
  assert.equal(cross.status, 403);
  assert.match(((await cross.json()) as { message: string }).message, /origin http:\/\/evil.example is refused/);
});
