// `trellis control`'s Kubernetes flags refuse what they cannot honour, by name: a context without a kubeconfig,
// a kubeconfig that does not exist, MeshConfig discoverySelectors outside Kubernetes mode; `trellis install-crds`
// prints the manifest on --dry-run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CLI = "dist/src/cli/main.js";
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, KUBERNETES_SERVICE_HOST: "", KUBECONFIG: "" } });

test("Kubernetes flags that cannot be honoured are refused by name", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-flags-"));
  try {
    let r = run("control", "--kube-context", "prod", "--state-dir", dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--kube-context needs --kubeconfig FILE/);
    r = run("control", "--kubeconfig", join(dir, "missing"), "--state-dir", dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /kubeconfig .*missing does not exist/);
    writeFileSync(join(dir, "mesh.yaml"), "discoverySelectors:\n- matchLabels: {team: a}\n");
    r = run("control", "--mesh-config", join(dir, "mesh.yaml"), "--state-dir", dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /discoverySelectors apply in Kubernetes mode only: add --kubeconfig FILE or remove them/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("install-crds --dry-run prints the CRD manifest", () => {
  const r = run("install-crds", "--dry-run");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /kind: CustomResourceDefinition\n[\s\S]*name: virtualservices\.networking\.istio\.io/);
});
