// The Bookinfo demo as a user runs it: `trellis demo`, the product page through the mesh with reviews v1/v2/v3 in
// turn, Istio's request-routing task applied with `trellis apply`, proxy-status, and a clean stop.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

const stateDir = mkdtempSync(join(tmpdir(), "trellis-demo-"));
let demo: ChildProcess;
let productpage = "";
let api = "";

before(async () => {
  demo = spawn(process.execPath, ["dist/src/cli/main.js", "demo", "--state-dir", stateDir, "--xds-port", "0", "--api-port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  demo.stderr!.resume();
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the demo did not come up: ${out}`)), 60_000);
    demo.stdout!.on("data", (d) => {
      out += d;
      const p = /Bookinfo is ready: (http:\/\/\S+\/productpage)/.exec(out);
      const a = /TRELLIS_CONTROL=(\S+)\)/.exec(out);
      if (p && a) {
        productpage = p[1];
        api = a[1];
        clearTimeout(timer);
        resolve();
      }
    });
    demo.once("exit", (code) => reject(new Error(`trellis demo exited with ${code}: ${out}`)));
  });
});

after(async () => {
  if (demo.exitCode === null) {
    demo.kill("SIGTERM");
    await new Promise((r) => demo.once("exit", r));
  }
  rmSync(stateDir, { recursive: true, force: true });
});

async function page(cookie?: string): Promise<string> {
  const res = await fetch(productpage, { headers: cookie ? { cookie } : {} });
  assert.equal(res.status, 200);
  return res.text();
}

/** Which reviews version rendered the page: red stars (v3), black stars (v2), or none (v1). */
function version(html: string): "v1" | "v2" | "v3" {
  if (/color:\s*red/.test(html)) return "v3";
  if (/color:\s*black/.test(html)) return "v2";
  return "v1";
}

const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", ...args, "--control", api], { encoding: "utf8" });

test("the product page is served through the mesh, with reviews from all three versions", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 12 && seen.size < 3; i++) seen.add(version(await page()));
  const html = await page();
  assert.match(html, /The Comedy of Errors/);
  assert.match(html, /Reviewer1/);
  assert.deepEqual([...seen].sort(), ["v1", "v2", "v3"]);
});

test("Istio's request-routing task: jason sees v2 (black stars), everyone else v1", async () => {
  const dr = cli("apply", "-f", "examples/istio/bookinfo/destination-rule-all.yaml");
  assert.equal(dr.status, 0, dr.stderr);
  const vs = cli("apply", "-f", "examples/istio/tasks/request-routing/virtual-service-reviews-test-v2.yaml");
  assert.equal(vs.status, 0, vs.stderr);
  const deadline = Date.now() + 10_000;
  let ok = false;
  while (!ok && Date.now() < deadline) {
    const anon = await Promise.all([page(), page(), page()]);
    const jason = await Promise.all([page("user=jason"), page("user=jason")]);
    ok = anon.every((h) => version(h) === "v1") && jason.every((h) => version(h) === "v2");
    if (!ok) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(ok, "routing did not converge to v1 for everyone and v2 for jason");
});

test("proxy-status lists the six sidecars in sync", () => {
  const r = cli("proxy-status");
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.split("\n").filter((l) => /^(productpage|details|reviews|ratings)-/.test(l));
  assert.equal(rows.length, 6, r.stdout);
  assert.ok(rows.every((l) => !/NACKED|STALE/.test(l)), r.stdout);
});
