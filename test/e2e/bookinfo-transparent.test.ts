// Bookinfo and Istio's tasks in transparent mode: each workload in its own network namespace, its traffic sent
// through its sidecar by iptables; afterwards no namespace is left behind. Needs Linux, root, ip and iptables.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after } from "node:test";
import { originalDstUnavailable } from "../../src/native/original-dst.js";
import { trellisNamespaces } from "../../src/universal/netns.js";
import { bookinfoSuite } from "./bookinfo-suite.js";

function missing(): string | false {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return "transparent mode needs Linux and root";
  if (spawnSync("iptables", ["--version"]).error) return "needs iptables (scripts/install-system-deps.sh)";
  if (trellisNamespaces().length > 0) return `Trellis namespaces exist already (${trellisNamespaces().join(", ")}): another run is using the mesh bridge`;
  return originalDstUnavailable() ?? false;
}
const skip = missing();

bookinfoSuite({ transparent: true, skip });

after(() => {
  if (skip) return;
  // The demo stopped normally: every namespace and the bridge went with it.
  assert.deepEqual(trellisNamespaces(), []);
});
