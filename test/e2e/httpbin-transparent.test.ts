// Istio's httpbin tasks in transparent mode: trellis control and three `trellis run --transparent` workloads
// (httpbin v1 and v2, and a caller that addresses http://httpbin:8000 by name), as processes. Linux and root.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { originalDstUnavailable } from "../../src/native/original-dst.js";
import { trellisNamespaces } from "../../src/universal/netns.js";
import { freePort } from "../../src/universal/workload-spec.js";
import { httpbinTasks, type Call } from "../control/httpbin-tasks-suite.js";

const skip = process.platform !== "linux" || process.getuid?.() !== 0 ? "transparent mode needs Linux and root"
  : spawnSync("iptables", ["--version"]).error ? "needs iptables (scripts/install-system-deps.sh)"
  : trellisNamespaces().length > 0 ? `Trellis namespaces exist already (${trellisNamespaces().join(", ")})`
  : originalDstUnavailable() ?? false;

function start(args: string[], ready: RegExp, children: ChildProcess[]): Promise<RegExpExecArray> {
  const child = spawn(process.execPath, ["dist/src/cli/main.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no ${ready} from trellis ${args[0]} within 30 s: ${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-8000);
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); resolve(m); }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`trellis ${args[0]} exited with ${code}: ${out}`)); });
  });
}

httpbinTasks(async () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-httpbin-t-"));
  const children: ChildProcess[] = [];
  const [xds, api] = [await freePort(), await freePort()];
  const state = join(dir, "state");
  await start(["control", "--state-dir", state, "--xds-port", String(xds), "--api-port", String(api), "--otlp-port", "0", "--console-port", "0"], /api listening/, children);
  const mesh = ["--transparent", "--publish", "--xds", `127.0.0.1:${xds}`, "--control", `127.0.0.1:${api}`, "--state-dir", state];
  const published: Record<string, number> = {};
  for (const version of ["v1", "v2"]) {
    const m = await start(["run", "--service", "httpbin", "--labels", `version=${version}`, "--port", "8000", ...mesh, "--", process.execPath, "dist/test/fixtures/httpbin.js", version], /published on 127\.0\.0\.1:(\d+)[\s\S]*httpbin v\d listening/, children);
    published[version] = Number(m[1]);
  }
  const client = await start(["run", "--service", "fortio", "--port", "8080", ...mesh, "--", process.execPath, "dist/test/fixtures/mesh-client.js"], /admin on 127\.0\.0\.1:(\d+), metrics on [\d.:]+, published on 127\.0\.0\.1:(\d+)[\s\S]*mesh client listening/, children);
  const [clientAdmin, clientPort] = [Number(client[1]), Number(client[2])];
  return {
    api, clientAdmin,
    call: async (path, n = 1) => (await (await fetch(`http://127.0.0.1:${clientPort}/call?n=${n}&url=${encodeURIComponent(`http://httpbin:8000${path}`)}`, { signal: AbortSignal.timeout(30_000) })).json()) as Call[],
    // Through the instance's own sidecar, from outside the mesh (its published port).
    seen: async (version) => (await (await fetch(`http://127.0.0.1:${published[version]}/seen`)).json()) as Array<{ path: string; host: string }>,
    stop: async () => {
      for (const c of children.reverse()) {
        if (c.exitCode !== null || c.signalCode !== null) continue;
        c.kill("SIGTERM");
        await new Promise((r) => c.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}, skip);
