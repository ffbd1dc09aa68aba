// Transparent interception in namespaces this test makes: istio-iptables-style rules redirect outbound and inbound
// connections, and the SO_ORIGINAL_DST addon recovers where each was going. Needs root, ip and iptables. Processes
// of uid 1337 run from a readable copy of the build, so the test passes wherever the clone is (even under a 0700 dir).
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { originalDstUnavailable } from "../../src/native/original-dst.js";
import { interceptionRules } from "../../src/universal/iptables-rules.js";
import { addVirtualIps, createWorkloadNetns, ensureHub, removeNetns } from "../../src/universal/netns.js";
import { sh } from "../../src/universal/exec.js";
import { readableCopy } from "../../src/universal/readable-copy.js";

const suffix = process.pid.toString(36);
const HUB = `trellis-t${suffix}-hub`;
const A = `trellis-t${suffix}-a`;
const B = `trellis-t${suffix}-b`;
const PROXY_UID = 1337;

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  if (spawnSync("iptables", ["--version"]).error) return "needs iptables (scripts/install-system-deps.sh)";
  return originalDstUnavailable();
}
const skip = missing();
const servers: ChildProcess[] = [];
// The fixtures as uid 1337 can read them (they import dist/src/native, which the copy holds too).
const FIXTURES = skip ? "" : `${readableCopy(["dist/test/universal/fixtures"])}/dist/test/universal/fixtures`;

/** `ip netns exec` needs root, so the uid is dropped inside the namespace with setpriv, as a sidecar's would be. */
function command(netns: string, uid: number | undefined, args: string[]): string[] {
  const asUser = uid === undefined ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"];
  return ["netns", "exec", netns, ...asUser, process.execPath, ...args];
}

function startIn(netns: string, script: string, args: string[], uid?: number): Promise<ChildProcess> {
  const child = spawn("ip", command(netns, uid, [script, ...args]), { stdio: ["ignore", "pipe", "inherit"] });
  servers.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

function connectFrom(netns: string, host: string, port: number, uid?: number): string {
  const r = spawnSync("ip", command(netns, uid, [`${FIXTURES}/connect.js`, host, String(port)]), { encoding: "utf8", timeout: 10_000 });
  return r.stdout;
}

before(() => {
  if (skip) return;
  const net = ensureHub(HUB, 24);
  createWorkloadNetns(net, A, "10.213.77.2", { "reviews.default.svc.cluster.local": "10.213.255.10" });
  createWorkloadNetns(net, B, "10.213.77.3", {});
  addVirtualIps(A, ["10.213.255.10"]);
  const plan = { outboundPort: 15001, inboundPort: 15006, proxyUid: PROXY_UID, inboundPorts: "*" as const, excludeInboundPorts: [15000, 15020, 15021], outboundCidrs: "*" as const };
  for (const ns of [A, B]) sh("ip", ["netns", "exec", ns, "iptables-restore", "--noflush"], { input: interceptionRules(plan) });
});

after(() => {
  for (const s of servers) s.kill("SIGTERM");
  for (const ns of [A, B, HUB]) removeNetns(ns);
});

test("outbound: a connection to a service VIP lands on 15001 and the proxy learns the VIP and port", { skip }, async () => {
  await startIn(A, `${FIXTURES}/original-dst-server.js`, ["15001"], PROXY_UID);
  assert.equal(connectFrom(A, "10.213.255.10", 9080), "10.213.255.10:9080");
  // The proxy's own uid is not captured: the same connection from it goes to the VIP itself, where nothing listens.
  assert.match(connectFrom(A, "10.213.255.10", 9080, PROXY_UID), /^error .*ECONNREFUSED/);
});

test("inbound: a connection from another workload lands on 15006 with its original destination", { skip }, async () => {
  await startIn(B, `${FIXTURES}/original-dst-server.js`, ["15006"], PROXY_UID);
  // From A's proxy uid (not captured on A's side), straight to B's address: B's PREROUTING captures it.
  assert.equal(connectFrom(A, "10.213.77.3", 9080, PROXY_UID), "10.213.77.3:9080");
  // Excluded ports (the sidecar's own admin) are not captured.
  assert.match(connectFrom(A, "10.213.77.3", 15000, PROXY_UID), /^error .*ECONNREFUSED/);
});

test("trellis cleanup removes namespaces a crashed run left, and the processes in them", { skip }, async () => {
  const ns = `trellis-t${suffix}-crashed`;
  sh("ip", ["netns", "add", ns]);
  const orphan = spawn("ip", ["netns", "exec", ns, "sleep", "60"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 200));
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "cleanup", "--prefix", ns], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(ns));
  assert.doesNotMatch(sh("ip", ["netns", "list"]), new RegExp(ns));
  await new Promise((resolve) => (orphan.exitCode !== null || orphan.signalCode !== null ? resolve(null) : orphan.once("exit", resolve)));
});
