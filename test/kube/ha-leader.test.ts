// Two control-plane replicas against one real API server, with the manifests' RBAC and one shared (plug-in) CA: a
// Lease left by a holder that died is taken over only after its duration; exactly one replica leads and writes the
// istio-ca-root-cert ConfigMap into every namespace (new ones too) and restores it when deleted or edited; when the
// leader shuts down it releases the Lease (holder cleared) and the other replica takes it and the work.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { applyControlRbac, CONTROL_NAMESPACE } from "../fixtures/control-rbac.js";
import { writePluginCa } from "../fixtures/plugin-ca.js";
import { ControlPlane } from "../../src/app/control-plane.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { DEFAULT_LEASE_NAME } from "../../src/control/kube/leader-election.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;
const LIMIT_MS = 120_000;
const LEASE_MS = 4000;
const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${CONTROL_NAMESPACE}/leases/${DEFAULT_LEASE_NAME}`;

describe("leader election and singleton work across two replicas", { skip }, () => {
  let cluster: KubeCluster;
  const replicas = new Map<string, { cp: ControlPlane; client: KubeClient; stopped: boolean }>();
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-ha-"));
  let rootPem = "";
  let ghostAt = 0;
  let firstLeaderAt = 0;

  const holder = async () => (await cluster.request<{ spec?: { holderIdentity?: string } }>("GET", LEASE_PATH)).body.spec?.holderIdentity ?? undefined;
  const configMap = async (ns: string) => {
    const res = await cluster.request<{ data?: Record<string, string>; metadata: { resourceVersion: string } }>("GET", `/api/v1/namespaces/${ns}/configmaps/istio-ca-root-cert`);
    return res.status === 200 ? res.body : undefined;
  };
  const hasRoot = (ns: string) => async () => ((await configMap(ns))?.data?.["root-cert.pem"] === rootPem ? true : undefined);

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const kubeconfig = await applyControlRbac(cluster);
    const plugin = join(dir, "cacerts");
    mkdirSync(plugin);
    await writePluginCa(plugin);
    rootPem = readFileSync(join(plugin, "root-cert.pem"), "utf8");
    // A holder that died without releasing: its Lease must expire (by the replicas' own clocks) before a takeover.
    const now = new Date().toISOString().replace("Z", "000Z"); // MicroTime
    const ghost = await cluster.request("POST", `/apis/coordination.k8s.io/v1/namespaces/${CONTROL_NAMESPACE}/leases`, {
      apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: DEFAULT_LEASE_NAME },
      spec: { holderIdentity: "ghost", leaseDurationSeconds: LEASE_MS / 1000, renewTime: now, acquireTime: now },
    });
    assert.equal(ghost.status, 201, ghost.text);
    ghostAt = Date.now();
    for (const name of ["replica-a", "replica-b"]) {
      const client = new KubeClient(loadKubeconfig(kubeconfig));
      const cp = new ControlPlane({ stateDir: join(dir, name), xdsPort: 0, apiPort: 0, caPort: 0, otlpPort: 0, caPluginDir: plugin, log: () => {},
        kubeIdentity: { client, election: { identity: name, leaseDurationMs: LEASE_MS, renewIntervalMs: 1000, retryIntervalMs: 250 } } });
      await cp.start();
      replicas.set(name, { cp, client, stopped: false });
    }
  });
  after(async () => {
    for (const r of replicas.values()) if (!r.stopped) await r.cp.stop();
    for (const r of replicas.values()) r.client.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes over a dead holder's Lease only after its duration, and one replica leads", async () => {
    const leader = await waitFor("a replica to take the Lease", LIMIT_MS, async () => { const h = await holder(); return h && h !== "ghost" ? h : undefined; }, 100);
    firstLeaderAt = Date.now();
    assert.ok(replicas.has(leader), `holder ${leader}`);
    assert.ok(firstLeaderAt - ghostAt >= LEASE_MS, `taken over after ${firstLeaderAt - ghostAt} ms; the lease lasts ${LEASE_MS} ms`);
  });

  it("the leader writes istio-ca-root-cert into every namespace, new ones too, and restores it", async () => {
    await waitFor("the ConfigMap in default", LIMIT_MS, hasRoot("default"));
    await waitFor(`the ConfigMap in ${CONTROL_NAMESPACE}`, LIMIT_MS, hasRoot(CONTROL_NAMESPACE));
    assert.equal(await configMap("kube-system"), undefined, "system namespaces are left alone, as istiod does");
    assert.equal((await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } })).status, 201);
    await waitFor("the ConfigMap in a new namespace", LIMIT_MS, hasRoot("team-a"));
    assert.equal((await cluster.request("DELETE", "/api/v1/namespaces/team-a/configmaps/istio-ca-root-cert")).status, 200);
    await waitFor("the deleted ConfigMap to come back", LIMIT_MS, hasRoot("team-a"));
    const edited = await cluster.request("PATCH", "/api/v1/namespaces/team-a/configmaps/istio-ca-root-cert", { data: { "root-cert.pem": "not a root" } });
    assert.equal(edited.status, 200, edited.text);
    await waitFor("the edited ConfigMap to be restored", LIMIT_MS, hasRoot("team-a"));
  });

  it("a leader that shuts down releases the Lease; the other replica takes it and the work", async () => {
    const leader = (await holder())!;
    const other = [...replicas.keys()].find((n) => n !== leader)!;
    const r = replicas.get(leader)!;
    r.stopped = true;
    await r.cp.stop();
    const released = await cluster.request<{ spec?: { holderIdentity?: string | null } }>("GET", LEASE_PATH);
    assert.ok([undefined, null, other].includes(released.body.spec?.holderIdentity), `after the stop the Lease is released (holder: ${released.body.spec?.holderIdentity})`);
    await waitFor(`${other} to take the Lease`, LIMIT_MS, async () => ((await holder()) === other ? true : undefined), 100);
    assert.equal((await cluster.request("DELETE", "/api/v1/namespaces/team-a/configmaps/istio-ca-root-cert")).status, 200);
    await waitFor("the new leader to restore the ConfigMap", LIMIT_MS, hasRoot("team-a"));
  });
});
