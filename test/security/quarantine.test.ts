// Issue #25 item 8: resources an older version stored under names now refused (".", "..", over 253 characters) are
// set aside at load into STATE/resources/quarantine/ (0600), reported by file, never served, and removable; the
// valid resources beside them keep serving.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-quarantine-"));
const state = join(dir, "state");
const resources = join(state, "resources");
const LONG = "a".repeat(300);
const logged: string[] = [];
const consoleError = console.error;
let cp: ControlPlane;

function virtualService(name: string, version: number): Record<string, unknown> {
  return { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, namespace: "default", resourceVersion: String(version) }, spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] } };
}

const stuck = { "VirtualService%2Fdefault%2F..json": ".", "VirtualService%2Fdefault%2F...json": "..", "legacy-long.json": LONG };

before(async () => {
  mkdirSync(resources, { recursive: true });
  let v = 1;
  for (const [file, name] of Object.entries(stuck)) writeFileSync(join(resources, file), JSON.stringify(virtualService(name, v++)));
  writeFileSync(join(resources, "VirtualService%2Fdefault%2Freviews.json"), JSON.stringify(virtualService("reviews", v)));
  console.error = (...args: unknown[]) => { logged.push(args.join(" ")); };
  try {
    cp = new ControlPlane({ stateDir: state, xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, traceSamplingPercent: 0, log: () => {} });
    await cp.start();
  } finally {
    console.error = consoleError;
  }
});

after(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw request: the path is sent as it is (no dot-segment or percent normalization by a URL parser). */
function call(method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: cp.ports.api, method, path, headers: { host: "127.0.0.1" } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.end();
  });
}

const VS = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";

test("each resource under a refused name is moved aside, owner-only, and reported by its file name", () => {
  const aside = readdirSync(join(resources, "quarantine")).sort();
  assert.deepEqual(aside, Object.keys(stuck).sort());
  for (const f of aside) assert.equal(statSync(join(resources, "quarantine", f)).mode & 0o777, 0o600, f);
  for (const f of Object.keys(stuck)) {
    assert.equal(existsSync(join(resources, f)), false, `${f} left in resources/`);
    assert.ok(logged.some((l) => l.includes(`${f} holds a VirtualService`) && l.includes(`resources/quarantine/${f}`)), `no report for ${f}: ${logged.join("\n")}`);
  }
});

test("only the valid resource is served", async () => {
  const list = await call("GET", VS);
  assert.equal(list.status, 200);
  const names = (JSON.parse(list.body) as { items: Array<{ metadata: { name: string } }> }).items.map((r) => r.metadata.name);
  assert.deepEqual(names, ["reviews"]);
});

test("a DELETE of the refused name removes the quarantined file; another refused name still gets its rule", async () => {
  const other = await call("DELETE", `${VS}/${"b".repeat(300)}`);
  assert.equal(other.status, 400);
  assert.match(other.body, /is not a valid name/);
  const r = await call("DELETE", `${VS}/${LONG}`);
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /set aside at startup .*its file is now deleted/);
  assert.equal(existsSync(join(resources, "quarantine", "legacy-long.json")), false);
  const again = await call("DELETE", `${VS}/${LONG}`);
  assert.equal(again.status, 400, "removed once, the name is just refused");
});
