// Failures mid-traffic, as processes: a workload's app or its sidecar killed, the control plane killed. The mesh
// answers with mesh errors (never hangs), keeps serving its last config while the control plane is away, and
// recovers when the piece comes back. As root: a transparent run killed outright leaves a namespace, and
// `trellis cleanup` leaves the host as it was.
import assert from "node:assert/strict";
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { freePort } from "../../src/universal/workload-spec.js";
import { trellisNamespaces } from "../../src/universal/netns.js";
import { originalDstUnavailable } from "../../src/native/original-dst.js";
import { CliProcesses } from "../fixtures/cli-process.js";

const CLI = "dist/src/cli/main.js";
const DETAILS = "dist/examples/bookinfo/details.js";
const dir = mkdtempSync(join(tmpdir(), "trellis-recovery-"));
const processes = new CliProcesses();
after(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const start = (args: string[], ready: RegExp, timeoutMs?: number) => processes.start(args, ready, timeoutMs);

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once("exit", (code) => r(code)));
}

/** The status of one GET, "error" when the connection failed, "timeout" after 5 s. */
async function status(url: string): Promise<number | "error" | "timeout"> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).status;
  } catch (err) {
    return (err as Error).name === "TimeoutError" ? "timeout" : "error";
  }
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("killing a workload's app, its sidecar or the control plane mid-traffic: mesh errors, then recovery", async () => {
  const state = join(dir, "state");
  const [xds, api, ca, local] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const controlArgs = ["control", "--state-dir", state, "--xds-port", String(xds), "--api-port", String(api), "--ca-port", String(ca), "--otlp-port", "0", "--console-port", "0"];
  const control = (await start(controlArgs, /api listening/)).child;
  const mesh = ["--xds", `127.0.0.1:${xds}`, "--ca", `127.0.0.1:${ca}`, "--state-dir", state];
  const runDetails = () => start(["run", "--service", "details", "--labels", "version=v1", "--port", "9080", ...mesh, "--", process.execPath, DETAILS], /details listening/);
  let details = await runDetails();
  // The caller: an idle app whose sidecar gives it a local port to details.
  await start(["run", "--service", "sleep", "--port", "9999", "--upstream", `details:9080=${local}`, ...mesh, "--", process.execPath, "-e", "setInterval(() => {}, 1 << 30)"], /upstreams details:9080/);
  const url = `http://127.0.0.1:${local}/details/0`;
  await until("the mesh to serve details", async () => (await status(url)) === 200);

  // The app dies: its run stops the sidecar and exits; callers get a mesh error at once, not a hang.
  const appPid = Number(spawnSync("pgrep", ["-f", `^${process.execPath} ${DETAILS}`], { encoding: "utf8" }).stdout.trim().split("\n")[0]);
  assert.ok(appPid > 0, "the details app's pid");
  process.kill(appPid, "SIGKILL");
  assert.notEqual(await exited(details.child), null);
  await until("callers to get 503 without details", async () => (await status(url)) === 503);
  details = await runDetails();
  await until("details to be back", async () => (await status(url)) === 200);

  // The sidecar dies: the run stops the app too (as a pod whose sidecar crashed); a new run brings it back.
  const sidecarPid = Number(spawnSync("pgrep", ["-f", `${CLI} proxy --bootstrap .*details-v1-`], { encoding: "utf8" }).stdout.trim().split("\n")[0]);
  assert.ok(sidecarPid > 0, "the details sidecar's pid");
  process.kill(sidecarPid, "SIGKILL");
  assert.notEqual(await exited(details.child), 0);
  await until("callers to get 503 without details' sidecar", async () => (await status(url)) === 503);
  await runDetails();
  await until("details to be back again", async () => (await status(url)) === 200);

  // The control plane dies: sidecars keep their last config and traffic flows.
  control.kill("SIGKILL");
  await exited(control);
  for (let i = 0; i < 10; i++) assert.equal(await status(url), 200, "served from the last config while the control plane is away");
  // It comes back on the same ports and state: sidecars reconnect, and new config reaches them.
  await start(controlArgs, /api listening/);
  const vs = join(dir, "details-abort.yaml");
  writeFileSync(vs, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: details}\nspec:\n  hosts: [details]\n  http:\n  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n    route: [{destination: {host: details}}]\n");
  const apply = spawnSync(process.execPath, [CLI, "apply", "-f", vs, "--control", `127.0.0.1:${api}`], { encoding: "utf8" });
  assert.equal(apply.status, 0, apply.stderr);
  await until("the restarted control plane's config to reach the sidecar", async () => (await status(url)) === 418, 30_000);
  await processes.stopAll();
});

const transparentSkip = process.platform !== "linux" || process.getuid?.() !== 0 ? "needs Linux and root"
  : spawnSync("iptables", ["--version"]).error ? "needs iptables (scripts/install-system-deps.sh)"
  : trellisNamespaces().length > 0 ? `Trellis namespaces exist already (${trellisNamespaces().join(", ")})`
  : originalDstUnavailable() ?? false;

test("a transparent run killed outright leaves its namespace; trellis cleanup leaves the host as it was", { skip: transparentSkip }, async () => {
  const state = join(dir, "state-t");
  const [xds, api] = [await freePort(), await freePort()];
  const control = (await start(["control", "--state-dir", state, "--xds-port", String(xds), "--api-port", String(api), "--otlp-port", "0", "--console-port", "0"], /api listening/)).child;
  const { child } = await start(["run", "--transparent", "--service", "details", "--port", "9080", "--xds", `127.0.0.1:${xds}`, "--control", `127.0.0.1:${api}`, "--state-dir", state, "--", process.execPath, DETAILS], /details listening/);
  assert.ok(trellisNamespaces().some((n) => /^trellis-w\d+$/.test(n)), "the workload's namespace exists");
  child.kill("SIGKILL");
  await exited(child);
  assert.ok(trellisNamespaces().length >= 2, "a killed run leaves its namespace and the bridge");
  const r = spawnSync(process.execPath, [CLI, "cleanup"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(trellisNamespaces(), []);
  assert.equal(spawnSync("pgrep", ["-f", DETAILS]).status, 1, "no app left running");
  control.kill("SIGTERM");
  await exited(control);
});
