// The run-all launcher: six real processes, reviews versions in turn through productpage, clean stop on SIGTERM.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getJson } from "./helpers.js";

const LAUNCHER = join(dirname(fileURLToPath(import.meta.url)), "../../examples/bookinfo/run-all.js");

describe("bookinfo run-all", () => {
  let child: ChildProcess;
  let out = "";
  let productpage = "";
  before(async () => {
    child = spawn(process.execPath, [LAUNCHER], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr?.on("data", (c: Buffer) => (out += c.toString("utf8")));
    productpage = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`run-all did not come up: ${out}`)), 15_000);
      const check = (): void => {
        const m = /open (http:\/\/127\.0\.0\.1:\d+)\/productpage/.exec(out);
        if (!m) return;
        clearTimeout(timer);
        child.stdout?.off("data", check);
        resolve(m[1]);
      };
      child.stdout?.on("data", check);
      child.once("exit", () => reject(new Error(`run-all exited: ${out}`)));
    });
  });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  it("prints every service and serves all three reviews versions in turn", async () => {
    for (const name of ["productpage-v1", "details-v1", "reviews-v1", "reviews-v2", "reviews-v3", "ratings-v1"]) {
      assert.match(out, new RegExp(`^${name}\\s+http://127\\.0\\.0\\.1:\\d+$`, "m"));
    }
    const served = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const { status, body } = await getJson(`${productpage}/api/v1/products/0/reviews`);
      assert.equal(status, 200);
      served.add((body as { podname: string }).podname);
    }
    assert.deepEqual([...served].sort(), ["reviews-v1", "reviews-v2", "reviews-v3"]);
  });

  it("stops every service on SIGTERM and exits 0", async () => {
    const ports = [...out.matchAll(/^\S+-v\d\s+http:\/\/127\.0\.0\.1:(\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(ports.length, 6);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    // The launcher waits for its children before exiting, so nothing may answer any more.
    for (const port of ports) await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), TypeError, `port ${port} still answers`);
  });
});
