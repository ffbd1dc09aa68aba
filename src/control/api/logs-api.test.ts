// Logs are served only for connected proxies, filtered by container, newest last; nothing outside the folder.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { logsApi } from "./logs-api.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-logs-api-"));
let server: Server;
let base = "";

before(async () => {
  mkdirSync(join(dir, "workloads"));
  writeFileSync(join(dir, "workloads", "w1.default.log.1"), "2026-01-01T00:00:00.000Z app old line\n");
  writeFileSync(join(dir, "workloads", "w1.default.log"), "2026-01-01T00:00:01.000Z sidecar proxy up\n2026-01-01T00:00:02.000Z app listening\n");
  const route = logsApi(dir, (id) => id === "w1.default" || id === "../secret");
  server = createServer(async (req, res) => { if (!(await route(req, res, new URL(req.url!, "http://x")))) res.writeHead(404).end(); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => { server.close(); rmSync(dir, { recursive: true, force: true }); });

test("both files in order, a container filter and a tail", async () => {
  const all = (await (await fetch(`${base}/api/v1/proxies/w1.default/logs`)).json()) as { lines: Array<{ container: string; text: string }> };
  assert.deepEqual(all.lines.map((l) => l.text), ["old line", "proxy up", "listening"]);
  const app = (await (await fetch(`${base}/api/v1/proxies/w1.default/logs?container=app&tail=1`)).json()) as { lines: Array<{ text: string }> };
  assert.deepEqual(app.lines.map((l) => l.text), ["listening"]);
});

test("an unknown proxy, a name with a path in it, a bad container or tail are refused by name", async () => {
  assert.equal((await fetch(`${base}/api/v1/proxies/nope/logs`)).status, 404);
  assert.equal((await fetch(`${base}/api/v1/proxies/${encodeURIComponent("../secret")}/logs`)).status, 404);
  const bad = await fetch(`${base}/api/v1/proxies/w1.default/logs?container=db`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { message: string }).message, /container: "db"/);
  assert.equal((await fetch(`${base}/api/v1/proxies/w1.default/logs?tail=0`)).status, 400);
});
