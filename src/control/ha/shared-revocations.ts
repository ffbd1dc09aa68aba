// Revoked bootstrap tokens shared between replicas: `trellis token revoke --state-dir DIR` writes the revocation into
// one replica's STATE_DIR/ca/token-key.revoked; every few seconds each replica merges its file into the sealed list
// in etcd and the list back into its file, so a token revoked at any replica is refused by all of them (each entry
// kept until the token would have expired anyway).
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import type { EtcdClient } from "../store/etcd-client.js";
import { ETCD_PREFIX } from "../store/etcd-store.js";
import type { StoreCrypto } from "../store/store-crypto.js";

export const REVOCATIONS_KEY = `${ETCD_PREFIX}ca/revocations`;
const SYNC_MS = 2000;

function readFile(file: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [id, until] = line.trim().split(" ");
    if (id && Number.isFinite(Number(until))) out.set(id, Number(until));
  }
  return out;
}

export class SharedRevocations {
  private timer?: NodeJS.Timeout;
  private syncing = false;

  constructor(private readonly etcd: EtcdClient, private readonly crypto: StoreCrypto, private readonly file: string, private readonly log: (line: string) => void) {}

  start(): void {
    this.timer = setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
    void this.sync();
  }

  /** One merge both ways; an etcd that does not answer is tried again at the next tick. */
  async sync(now = Date.now()): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      const stored = await this.etcd.get(REVOCATIONS_KEY);
      const shared = new Map<string, number>(stored ? Object.entries(JSON.parse(this.crypto.open(REVOCATIONS_KEY, stored.value).toString()) as Record<string, number>) : []);
      const local = readFile(this.file);
      const missingHere = [...shared].filter(([id, until]) => until > now && !local.has(id));
      if (missingHere.length) appendFileSync(this.file, missingHere.map(([id, until]) => `${id} ${until}\n`).join(""), { mode: 0o600 });
      const missingThere = [...local].filter(([id, until]) => until > now && !shared.has(id));
      if (missingThere.length === 0) return;
      const merged = Object.fromEntries([...shared, ...missingThere].filter(([, until]) => until > now));
      const value = this.crypto.seal(REVOCATIONS_KEY, Buffer.from(JSON.stringify(merged)));
      // Guarded: two replicas merging at once cannot drop each other's entries (the loser merges again next tick).
      await this.etcd.txn([{ key: REVOCATIONS_KEY, target: "MOD", equals: stored?.modRevision ?? 0 }], [{ put: { key: REVOCATIONS_KEY, value } }]);
    } catch (err) {
      this.log(`trellis control: cannot share token revocations through etcd yet: ${(err as Error).message}`);
    } finally {
      this.syncing = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
