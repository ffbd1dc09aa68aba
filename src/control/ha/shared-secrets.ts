// Gateway TLS secrets (`trellis secret`, credentialName) shared between replicas: a secret written through one
// replica's REST API is put, sealed (its private key never in plaintext in etcd), under /trellis/secrets/NS/NAME, and
// every replica's watch puts it into its own secret store, so each replica's gateways get it over SDS. What could not
// be written during an etcd outage is written at the next check.
import type { ApiRoute } from "../api/rest-api.js";
import { secretApi } from "../secrets/secret-api.js";
import type { SecretStore, StoredSecret } from "../secrets/secret-store.js";
import type { EtcdClient, EtcdEvent } from "../store/etcd-client.js";
import { ETCD_PREFIX } from "../store/etcd-store.js";
import type { StoreCrypto } from "../store/store-crypto.js";

export const SECRETS = `${ETCD_PREFIX}secrets/`;
const SYNC_MS = 2000;

export class SharedSecrets {
  /** What etcd holds, as this replica last saw or wrote it: key -> the secret's JSON. */
  private readonly shared = new Map<string, string>();
  private watch?: { stop(): void };
  private timer?: NodeJS.Timeout;
  private publishing = false;

  constructor(private readonly etcd: EtcdClient, private readonly crypto: StoreCrypto, private readonly store: SecretStore, private readonly log: (line: string) => void) {}

  async start(): Promise<void> {
    const { kvs, revision } = await this.etcd.range(SECRETS);
    this.apply(kvs.map((kv) => ({ type: "PUT", kv })));
    this.watch = this.etcd.watch(SECRETS, revision + 1, (events) => this.apply(events), () => {
      this.watch?.stop();
      this.start().catch((err: Error) => this.log(`trellis control: ${err.message}`));
    });
    this.timer = setInterval(() => void this.publish(), SYNC_MS);
    this.timer.unref();
    await this.publish();
  }

  /** The secrets API, followed by a publish of what the write changed. */
  route(): ApiRoute {
    const api = secretApi(this.store);
    return async (req, res, url) => {
      const handled = await api(req, res, url);
      if (handled && req.method !== "GET") await this.publish();
      return handled;
    };
  }

  private key(s: { namespace: string; name: string }): string {
    return `${SECRETS}${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.name)}`;
  }

  private apply(events: Array<Pick<EtcdEvent, "type" | "kv">>): void {
    for (const e of events) {
      const [ns, name] = e.kv.key.slice(SECRETS.length).split("/").map(decodeURIComponent);
      if (e.type === "DELETE") {
        this.shared.delete(e.kv.key);
        if (this.store.get(ns, name)) this.store.delete(ns, name);
        continue;
      }
      try {
        const text = this.crypto.open(e.kv.key, e.kv.value).toString();
        this.shared.set(e.kv.key, text);
        if (JSON.stringify(this.store.get(ns, name)) !== text) this.store.put(JSON.parse(text) as StoredSecret);
      } catch (err) {
        this.log(`trellis control: ignoring secret ${ns}/${name} from etcd: ${(err as Error).message}`);
      }
    }
  }

  /** Writes local secrets etcd does not hold as they are, and deletes there those deleted here. */
  async publish(): Promise<void> {
    if (this.publishing) return;
    this.publishing = true;
    try {
      const local = new Map(this.store.list().map((s) => [this.key(s), JSON.stringify(this.store.get(s.namespace, s.name))]));
      for (const [k, text] of local) {
        if (this.shared.get(k) === text) continue;
        await this.etcd.txn([], [{ put: { key: k, value: this.crypto.seal(k, Buffer.from(text)) } }]);
        this.shared.set(k, text);
      }
      for (const k of [...this.shared.keys()]) {
        if (local.has(k)) continue;
        await this.etcd.txn([], [{ delete: { key: k } }]);
        this.shared.delete(k);
      }
    } catch (err) {
      this.log(`trellis control: cannot share gateway secrets through etcd yet (retrying): ${(err as Error).message}`);
    } finally {
      this.publishing = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.watch?.stop();
  }
}
