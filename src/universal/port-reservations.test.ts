// Ports picked by processes starting side by side never coincide (the demo's seven `trellis run` once drew one twice).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { claimPort } from "./port-reservations.js";

const run = promisify(execFile);
const spec = fileURLToPath(new URL("./workload-spec.js", import.meta.url));

test("a claimed port is not claimed again", () => {
  const port = 20000 + Math.floor(Math.random() * 12000);
  claimPort(port);
  assert.equal(claimPort(port), false);
});

test("three processes picking 100 ports each at once get 300 different ports (unclaimed, two would coincide in about 97% of runs)", async () => {
  const script = `import(${JSON.stringify(spec)}).then(async (m) => { const ps = []; for (let i = 0; i < 100; i++) ps.push(await m.freePort()); console.log(JSON.stringify(ps)); })`;
  const outs = await Promise.all([0, 1, 2].map(() => run(process.execPath, ["-e", script])));
  const ports = outs.flatMap((o) => JSON.parse(o.stdout) as number[]);
  assert.equal(ports.length, 300);
  assert.equal(new Set(ports).size, 300);
});
