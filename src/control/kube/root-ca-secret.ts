// One self-signed root for every replica, kept in the Secret istio-ca-secret in the control plane's namespace, as
// istiod keeps its self-signed CA: the first replica to start makes the root and creates the Secret, the others (and
// later restarts) load it. Without it each replica would make its own root and proxies would distrust the others.
// The Secret's keys are Istio's (ca-cert.pem, ca-key.pem, root-cert.pem); they are copied into STATE_DIR/ca, where
// the CA reads its self-signed files. A plug-in CA (--ca-plugin-dir) is shared by its files and needs none of this.
// A root rotation is the leader's alone: it writes its new files back into the Secret, and followers, polling the
// Secret, copy them into their own CA directory and reload.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateAuthority, PLUGIN_FILES } from "../ca/authority.js";
import { type KubeClient, KubeApiError } from "./client.js";

export const CA_SECRET = "istio-ca-secret";
const KEYS = [PLUGIN_FILES.cert, PLUGIN_FILES.key, PLUGIN_FILES.root] as const;

type Secret = { data?: Record<string, string> };

/** Makes `caDir` hold the cluster's shared self-signed root, creating the Secret when no replica has yet. */
export async function syncCaSecret(client: KubeClient, namespace: string, caDir: string, trustDomain?: string): Promise<"loaded" | "created"> {
  const path = `/api/v1/namespaces/${namespace}/secrets`;
  let secret = await client.find<Secret>(`${path}/${CA_SECRET}`);
  let outcome: "loaded" | "created" = "loaded";
  if (!secret) {
    // A root made aside, so a lost race leaves nothing of it behind in the state directory.
    const scratch = mkdtempSync(join(caDir, "..", ".ca-new-"));
    try {
      await CertificateAuthority.open({ dir: scratch, trustDomain });
      const data = Object.fromEntries(KEYS.map((k) => [k, readFileSync(join(scratch, k)).toString("base64")]));
      try {
        await client.request("POST", path, { body: { apiVersion: "v1", kind: "Secret", type: "istio.io/ca-root", metadata: { name: CA_SECRET, namespace }, data } });
        secret = { data };
        outcome = "created";
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409)) throw err;
        secret = await client.get<Secret>(`${path}/${CA_SECRET}`); // another replica was first: use its root
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  writeCaFiles(secret!, namespace, caDir);
  return outcome;
}

/** Writes the Secret's keys into caDir where they differ; whether any did. */
function writeCaFiles(secret: Secret, namespace: string, caDir: string): boolean {
  const missing = KEYS.filter((k) => !secret.data?.[k]);
  if (missing.length) throw new Error(`Secret ${namespace}/${CA_SECRET} lacks ${missing.join(", ")}; fix or delete it (a new root is then made)`);
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  let changed = false;
  for (const k of KEYS) {
    const text = Buffer.from(secret.data![k], "base64").toString("utf8");
    const file = join(caDir, k);
    if (existsSync(file) && readFileSync(file, "utf8") === text) continue;
    writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
    chmodSync(`${file}.tmp`, 0o600);
    renameSync(`${file}.tmp`, file);
    changed = true;
  }
  return changed;
}

/** The leader after a rotation step: the Secret takes caDir's files (signing root, key, trust bundle). */
export async function publishCaSecret(client: KubeClient, namespace: string, caDir: string): Promise<void> {
  const path = `/api/v1/namespaces/${namespace}/secrets/${CA_SECRET}`;
  const data = Object.fromEntries(KEYS.map((k) => [k, readFileSync(join(caDir, k)).toString("base64")]));
  for (let attempt = 1; ; attempt++) {
    const current = await client.get<Secret & { metadata: { resourceVersion?: string } }>(path);
    try {
      await client.request("PUT", path, { body: { ...current, data } });
      return;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409) || attempt >= 5) throw err;
    }
  }
}

/**
 * A follower's side: while `following()` (not the leader, whose own files are newer than the Secret mid-rotation), polls
 * the Secret every `everyMs` and calls `changed` after copying new files into caDir.
 */
export function followCaSecret(client: KubeClient, namespace: string, caDir: string, following: () => boolean, changed: () => Promise<void>, log: (line: string) => void, everyMs = 5_000): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async () => {
    try {
      const secret = following() ? await client.find<Secret>(`/api/v1/namespaces/${namespace}/secrets/${CA_SECRET}`) : undefined;
      if (secret && following() && writeCaFiles(secret, namespace, caDir)) await changed();
    } catch (err) {
      log(`trellis control: cannot follow the mesh root in Secret ${namespace}/${CA_SECRET} (trying again): ${(err as Error).message}`);
    }
    if (!stopped) timer = setTimeout(() => void tick(), everyMs);
    timer?.unref();
  };
  timer = setTimeout(() => void tick(), everyMs);
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
