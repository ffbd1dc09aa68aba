// Three `trellis control` replicas on one etcd member (loopback, the etcd that scripts/install-kube.sh builds into the
// cache, not rebuilt) for cp-ha: the store key shared, tokens minted from the first replica's state dir (every
// replica shares the token key through the store), and writes through any replica's REST API.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CLI, NAMESPACE, SERVICE_ACCOUNT } from "./control-plane.js";
import { freePort, type Proc, start, waitForPort } from "./processes.js";

export interface ReplicaSet {
  replicas: Array<{ proc: Proc; xds: number; api: number }>;
  tokenFor(service: string): string;
  api(i: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

function etcdBinary(): string {
  const out = spawnSync("bash", ["scripts/install-kube.sh"], { encoding: "utf8" });
  const binDir = out.stdout.trim().split("\n").pop();
  if (out.status !== 0 || !binDir) throw new Error(`cp-ha needs etcd (scripts/install-kube.sh builds it with Go): ${out.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return join(binDir, "etcd");
}

export async function startReplicaSet(count: number): Promise<ReplicaSet> {
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-ha-"));
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [client, peer] = [await freePort(), await freePort()];
    procs.push(start("etcd", etcdBinary(), [`--data-dir=${join(dir, "etcd")}`, `--listen-client-urls=http://127.0.0.1:${client}`, `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=default=http://127.0.0.1:${peer}`, "--log-level=warn"]));
    await waitForPort(client, 30_000);
    const key = join(dir, "store.key");
    writeFileSync(key, randomBytes(32).toString("base64"), { mode: 0o600 });
    const replicas: ReplicaSet["replicas"] = [];
    for (let i = 0; i < count; i++) {
      const [xds, api, ca] = [await freePort(), await freePort(), await freePort()];
      const proc = start(`trellis-control-${i}`, process.execPath, [CLI, "control", "--state-dir", join(dir, `replica-${i}`), "--xds-port", String(xds), "--api-port", String(api), "--ca-port", String(ca),
        "--otlp-port", "0", "--console-port", "0", "--store", `etcd://127.0.0.1:${client}`, "--store-key", key]);
      procs.push(proc);
      await waitForPort(api, 60_000);
      replicas.push({ proc, xds, api });
    }
    const tokens = new Map<string, string>();
    return {
      replicas, stop,
      tokenFor: (service) => {
        if (!tokens.has(service)) tokens.set(service, execFileSync(process.execPath, [CLI, "token", "create", "-n", NAMESPACE, "--service-account", SERVICE_ACCOUNT, "--service", service, "--label", "version=v1", "--ttl", "2h", "--state-dir", join(dir, "replica-0")], { encoding: "utf8" }).trim());
        return tokens.get(service)!;
      },
      api: async (i, method, path, body) => {
        const res = await fetch(`http://127.0.0.1:${replicas[i].api}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
