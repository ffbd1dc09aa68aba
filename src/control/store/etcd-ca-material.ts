// The CA's material in the etcd store, sealed like everything else: the self-signed root's key and certificate and
// the bootstrap-token key, so every replica signs under one root and accepts the same tokens (a workload restarted
// against another replica needs no new token). The first replica to start stores what it has (or makes new
// material); the others, and later restarts, copy the stored material into STATE_DIR/ca, where the CA reads it.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CertificateAuthority, PLUGIN_FILES } from "../ca/authority.js";
import { TokenIssuer } from "../ca/tokens.js";
import type { EtcdClient } from "./etcd-client.js";
import { ETCD_PREFIX } from "./etcd-store.js";
import type { StoreCrypto } from "./store-crypto.js";

export const CA_MATERIAL_KEY = `${ETCD_PREFIX}ca/material`;
const TOKEN_KEY = "token-key";

/** The files shared: with a plug-in CA (its files shared by the operator) only the token key. */
function sharedFiles(plugin: boolean): string[] {
  return plugin ? [TOKEN_KEY] : [PLUGIN_FILES.cert, PLUGIN_FILES.key, PLUGIN_FILES.root, TOKEN_KEY];
}

/** What this replica would store if none is stored yet: the state dir's own material, or new material. */
async function localMaterial(caDir: string, files: string[]): Promise<Record<string, string>> {
  if (files.every((f) => existsSync(join(caDir, f)))) return Object.fromEntries(files.map((f) => [f, readFileSync(join(caDir, f), "utf8")]));
  mkdirSync(dirname(caDir), { recursive: true, mode: 0o700 });
  const scratch = mkdtempSync(join(dirname(caDir), ".ca-new-"));
  try {
    if (files.length > 1) await CertificateAuthority.open({ dir: scratch });
    TokenIssuer.open(join(scratch, TOKEN_KEY), "cluster.local");
    return Object.fromEntries(files.map((f) => [f, readFileSync(join(scratch, f), "utf8")]));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Makes `caDir` hold the replicas' shared CA material; "created" when this replica stored it first. */
export async function syncCaMaterial(etcd: EtcdClient, crypto: StoreCrypto, caDir: string, plugin: boolean): Promise<"loaded" | "created"> {
  const files = sharedFiles(plugin);
  let stored = await etcd.get(CA_MATERIAL_KEY);
  let material: Record<string, string> | undefined;
  let outcome: "loaded" | "created" = "loaded";
  if (!stored) {
    const mine = await localMaterial(caDir, files);
    const value = crypto.seal(CA_MATERIAL_KEY, Buffer.from(JSON.stringify(mine)));
    const { succeeded } = await etcd.txn([{ key: CA_MATERIAL_KEY, target: "CREATE", equals: 0 }], [{ put: { key: CA_MATERIAL_KEY, value } }]);
    if (succeeded) { material = mine; outcome = "created"; } else stored = await etcd.get(CA_MATERIAL_KEY); // another replica was first
  }
  if (!material) material = JSON.parse(crypto.open(CA_MATERIAL_KEY, stored!.value).toString()) as Record<string, string>;
  const missing = files.filter((f) => typeof material![f] !== "string");
  if (missing.length) throw new Error(`the etcd store's CA material (${CA_MATERIAL_KEY}) lacks ${missing.join(", ")}: it was stored by a replica with${plugin ? "out" : ""} --ca-plugin-dir; start every replica the same way`);
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  for (const f of files) {
    const path = join(caDir, f);
    if (existsSync(path) && readFileSync(path, "utf8") === material[f]) continue;
    writeFileSync(`${path}.tmp`, material[f], { mode: 0o600 });
    chmodSync(`${path}.tmp`, 0o600);
    renameSync(`${path}.tmp`, path);
  }
  return outcome;
}
