// Two `trellis control --kubeconfig` replicas (the manifests' RBAC, one plug-in CA) against one real API server: a
// pod's ADS client, authenticated by its istio-ca token, is given both addresses and connects to the first, the
// leader; that replica is killed (SIGKILL): the client fails over to the other, which serves it the same config
// (both read one API server), and after the dead leader's Lease expires the survivor takes over the singleton work.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { kubeBinaries } from "../fixtures/kube/binaries.js";
import { waitFor } from "../fixtures/kube/api-client.js";
import { startKubeCluster, type KubeCluster } from "../fixtures/kube/cluster.js";
import { applyControlRbac, CONTROL_NAMESPACE } from "../fixtures/control-rbac.js";
import { writePluginCa } from "../fixtures/plugin-ca.js";
import { CliProcesses } from "../fixtures/cli-process.js";
import { KubeClient } from "../../src/control/kube/client.js";
import { loadKubeconfig } from "../../src/control/kube/kubeconfig.js";
import { installCrds, loadCrds } from "../../src/control/kube/crds.js";
import { DEFAULT_LEASE_NAME } from "../../src/control/kube/leader-election.js";
import { AdsClient } from "../../src/xds/ads-client.js";
import type { ResourceKind } from "../../src/xds/resource.js";

const bins = await kubeBinaries();
const skip = bins.ok ? false : bins.reason;
const LIMIT_MS = 120_000;
const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${CONTROL_NAMESPACE}/leases/${DEFAULT_LEASE_NAME}`;
const READY = /api listening on [^\n]*:(\d+)\n[\s\S]*ca listening on [^\n]*:(\d+)\n[\s\S]*console listening/;

describe("two control-plane replicas: a replica killed, the proxy fails over and the survivor leads", { skip }, () => {
  let cluster: KubeCluster;
  const processes = new CliProcesses();
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-replicas-"));
  const replicas: Array<{ api: number; ca: number; child: ChildProcess }> = [];
  let rootPem = "";
  let podToken = "";

  const holder = async () => (await cluster.request<{ spec?: { holderIdentity?: string } }>("GET", LEASE_PATH)).body.spec?.holderIdentity ?? undefined;

  before(async () => {
    const started = await startKubeCluster();
    if (!started.ok) throw new Error(started.reason);
    cluster = started.cluster;
    const admin = new KubeClient(loadKubeconfig(cluster.adminKubeconfig));
    await installCrds(admin, loadCrds());
    admin.close();
    const kubeconfig = await applyControlRbac(cluster);
    const plugin = join(dir, "cacerts");
    mkdirSync(plugin);
    await writePluginCa(plugin);
    rootPem = readFileSync(join(plugin, "root-cert.pem"), "utf8");
    for (const [path, body] of [
      ["/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "bookinfo" } }],
      ["/api/v1/namespaces/bookinfo/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reviews" } }],
      ["/api/v1/namespaces/bookinfo/pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "reviews-v1", labels: { app: "reviews", version: "v1" } }, spec: { serviceAccountName: "reviews", containers: [{ name: "app", image: "reviews" }] } }],
    ] as const) {
      const res = await cluster.request<{ metadata: { uid: string } }>("POST", path, body);
      assert.equal(res.status, 201, res.text);
      if (body.kind === "Pod") {
        const tok = await cluster.request<{ status: { token: string } }>("POST", "/api/v1/namespaces/bookinfo/serviceaccounts/reviews/token", {
          apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: ["istio-ca"], boundObjectRef: { apiVersion: "v1", kind: "Pod", name: "reviews-v1", uid: res.body.metadata.uid } },
        });
        podToken = tok.body.status.token;
      }
    }
    for (const name of ["a", "b"]) {
      const { child, match } = await processes.start(["control", "--kubeconfig", kubeconfig, "--state-dir", join(dir, name), "--ca-plugin-dir", plugin,
        "--xds-port", "0", "--api-port", "0", "--ca-port", "0", "--otlp-port", "0", "--console-port", "0", "--webhook-port", "0"], READY, LIMIT_MS);
      replicas.push({ api: Number(match[1]), ca: Number(match[2]), child });
      // The first replica leads before the second starts, so the test knows which one leads.
      if (name === "a") await waitFor("replica a to take the Lease", LIMIT_MS, async () => (await holder()) ?? undefined, 200);
    }
  });
  after(async () => {
    await processes.stopAll();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("fails over to the surviving replica, resyncs the same config, and the survivor takes the Lease when it expires", async (t) => {
    const leaderA = await holder();
    const applied: Array<{ at: number; kind: ResourceKind; names: string[] }> = [];
    const creds = grpc.credentials.createSsl(Buffer.from(rootPem));
    const ads = new AdsClient({
      target: replicas.map((r) => `127.0.0.1:${r.ca}`),
      credentials: creds,
      channelOptions: { "grpc.ssl_target_name_override": "istiod.istio-system.svc" },
      metadata: () => { const md = new grpc.Metadata(); md.set("authorization", `Bearer ${podToken}`); return md; },
      node: { id: "reviews-v1.bookinfo", cluster: "reviews.bookinfo", metadata: { NAMESPACE: "bookinfo", POD_NAME: "reviews-v1", SERVICE_ACCOUNT: "reviews", LABELS: { app: "reviews", version: "v1" } } },
      subscriptions: () => ({ endpoint: [], route: [], secret: [] }),
      apply: (kind, resources) => { applied.push({ at: Date.now(), kind, names: [...resources.keys()].sort() }); return { ok: true, value: undefined }; },
      backoff: { baseMs: 200, maxMs: 2000 },
    });
    try {
      ads.start();
      await waitFor("clusters and listeners from replica a", LIMIT_MS, async () => (applied.some((a) => a.kind === "cluster") && applied.some((a) => a.kind === "listener") ? true : undefined), 100);
      assert.equal(ads.currentTarget(), `127.0.0.1:${replicas[0].ca}`);
      const before = applied.filter((a) => a.kind === "cluster").pop()!.names;
      const killedAt = Date.now();
      replicas[0].child.kill("SIGKILL");
      await waitFor("the client to resync from replica b", LIMIT_MS, async () => (applied.some((a) => a.at > killedAt && a.kind === "cluster") ? true : undefined), 100);
      t.diagnostic(`resynced from replica b ${applied.find((a) => a.at > killedAt)!.at - killedAt} ms after the kill`);
      assert.equal(ads.currentTarget(), `127.0.0.1:${replicas[1].ca}`);
      assert.deepEqual(applied.filter((a) => a.at > killedAt && a.kind === "cluster").pop()!.names, before, "the same clusters from the other replica");
      const leaderB = await waitFor("replica b to take the dead leader's Lease", LIMIT_MS, async () => { const h = await holder(); return h && h !== leaderA ? h : undefined; }, 200);
      // The last renewal came at most one renew interval (5 s) before the kill; the Lease lasts 15 s from it.
      assert.ok(Date.now() - killedAt >= 10_000, `taken over ${Date.now() - killedAt} ms after the kill: not before the Lease ran out`);
      t.diagnostic(`replica b took the Lease ${Date.now() - killedAt} ms after the kill (polled every 200 ms)`);
      assert.notEqual(leaderB, leaderA);
      assert.equal((await cluster.request("DELETE", "/api/v1/namespaces/bookinfo/configmaps/istio-ca-root-cert")).status, 200);
      await waitFor("the new leader to restore the ConfigMap", LIMIT_MS, async () => {
        const res = await cluster.request<{ data?: Record<string, string> }>("GET", "/api/v1/namespaces/bookinfo/configmaps/istio-ca-root-cert");
        return res.status === 200 && res.body.data?.["root-cert.pem"] === rootPem ? true : undefined;
      }, 200);
    } finally {
      ads.close();
    }
  });
});
