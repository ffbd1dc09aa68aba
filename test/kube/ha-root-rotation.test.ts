// A root rotation across two `trellis control --kubeconfig` replicas sharing the self-signed root (Secret
// istio-ca-secret): the follower refuses to rotate and names the leader; the leader rotates and writes the new root
// into the Secret; the follower takes it from there (signs with it, trusts both) and, after the leader finishes,
// trusts only the new root, as the leader does.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/control/kube/client.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { DEFAULT_LEASE_NAME } from "../../src/control/kube/leader-election.js";
import { applyControlRbac, CONTROL_NAMESPACE } from "../fixtures/control-rbac.js";
import { CliProcesses } from "../fixtures/cli-process.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;
const LIMIT_MS = 90_000;
const READY = /api listening on [^\n]*:(\d+)\n/;
const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${CONTROL_NAMESPACE}/leases/${DEFAULT_LEASE_NAME}`;

type CaState = { rotating: boolean; roots: Array<{ sha256: string }> };

describe("root rotation with two control-plane replicas: only the leader rotates, the follower follows", { skip }, () => {
  let cluster: KubeCluster;
  const processes = new CliProcesses();
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-rotation-"));
  const api: number[] = [];

  const ca = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/api/v1/ca`)).json()) as CaState;
  const rotation = (port: number, body: unknown) => fetch(`http://127.0.0.1:${port}/api/v1/ca/root-rotation`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const admin = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
    await installCrds(admin, loadCrds());
    admin.close();
    const kubeconfig = await applyControlRbac(cluster);
    for (const name of ["leader", "follower"]) {
      const { match } = await processes.start(["control", "--kubeconfig", kubeconfig, "--state-dir", join(dir, name),
        "--xds-port", "0", "--api-port", "0", "--ca-port", "0", "--otlp-port", "0", "--console-port", "0", "--webhook-port", "0"], READY, LIMIT_MS);
      api.push(Number(match[1]));
      // The first replica leads before the second starts, so the test knows which one leads.
      if (name === "leader") await waitFor("the first replica to take the Lease", LIMIT_MS, async () => (await cluster.request<{ spec?: { holderIdentity?: string } }>("GET", LEASE_PATH)).body.spec?.holderIdentity ?? undefined, 200);
    }
  });
  after(async () => {
    await processes.stopAll();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses on the follower, rotates on the leader, and the follower takes each step from the Secret", async () => {
    const [leader, follower] = api;
    const before = await ca(follower);
    assert.deepEqual(before.roots, (await ca(leader)).roots, "both replicas share one root");
    const refused = await rotation(follower, { action: "start" });
    assert.equal(refused.status, 409);
    assert.match(((await refused.json()) as { message: string }).message, /only the leader rotates the mesh root/);
    assert.equal((await ca(follower)).rotating, false, "the follower did not rotate");

    const started = await rotation(leader, { action: "start" });
    assert.equal(started.status, 200, await started.clone().text());
    const rotated = (await started.json()) as CaState;
    assert.equal(rotated.roots.length, 2);
    const newRoot = rotated.roots[0].sha256;
    await waitFor("the follower to sign with the new root and trust both", LIMIT_MS, async () => {
      const s = await ca(follower);
      return s.roots.length === 2 && s.roots[0].sha256 === newRoot ? true : undefined;
    }, 500);

    const finished = await rotation(leader, { action: "finish", force: true });
    assert.equal(finished.status, 200, await finished.clone().text());
    await waitFor("the follower to trust only the new root", LIMIT_MS, async () => {
      const s = await ca(follower);
      return s.roots.length === 1 && s.roots[0].sha256 === newRoot ? true : undefined;
    }, 500);
  });
});
