// A control-plane replica on the etcd store (`trellis control --store etcd://... --store-key FILE`), assembled
// before the control plane starts: the state directory locked to this process, etcd reached (retried while it is
// down, saying so), the store key checked against the store's (a replica with another key stops here, having
// written nothing), the CA's material shared, then the config store, this replica's lease, the proxies'
// registrations and the singleton work (--config-dir on the replica holding the leader key).
import { randomBytes } from "node:crypto";
import type { ControlPlane } from "../control-plane.js";
import { send } from "../api/rest-api.js";
import { ConfigDirSync } from "../store/config-dir.js";
import { EtcdClient, type EtcdTls, parseEtcdUrl, StoreUnavailableError } from "../store/etcd-client.js";
import { syncCaMaterial } from "../store/etcd-ca-material.js";
import { ETCD_PREFIX, EtcdStore } from "../store/etcd-store.js";
import { StoreCrypto, StoreKeyError } from "../store/store-crypto.js";
import type { Workload } from "../registry/registry.js";
import type { ReplicaHooks } from "./replica-hooks.js";
import { ReplicaLease } from "./replica-lease.js";
import { Registrations } from "./registrations.js";
import { Singleton } from "./singleton.js";
import { lockStateDir } from "./state-lock.js";
import { SharedRevocations } from "./shared-revocations.js";
import { SharedSecrets } from "./shared-secrets.js";

export const KEY_CHECK = `${ETCD_PREFIX}keycheck`;

export interface EtcdReplicaOptions {
  /** etcd://HOST:PORT,... */
  storeUrl: string;
  keyFile: string;
  /** TLS toward etcd; without it, members off loopback are warned about. */
  tls?: EtcdTls;
  stateDir: string;
  /** With the CA on: share its material through the store (only the token key with a plug-in CA). */
  ca?: { plugin: boolean };
  configDir?: string;
  configDirIntervalMs?: number;
  /** How long to keep trying an unreachable etcd at start (default: until it answers). */
  startLimitMs?: number;
  log?: (line: string) => void;
}

const RETRY_MAX_MS = 5000;

export class EtcdReplica implements ReplicaHooks {
  readonly id = `replica-${randomBytes(4).toString("hex")}`;
  readonly rootRotationRefused = "root rotation is not available with the etcd store yet: the other replicas would keep signing under the old root; rotate with a plug-in CA (--ca-plugin-dir) shared by every replica";
  private registrations?: Registrations;
  private singleton?: Singleton;
  private secrets?: SharedSecrets;

  private constructor(readonly store: EtcdStore, private readonly etcd: EtcdClient, private readonly crypto: StoreCrypto, private readonly lease: ReplicaLease, private readonly lock: { release(): void }, private readonly revocations: SharedRevocations | undefined, private readonly options: EtcdReplicaOptions, private readonly log: (line: string) => void) {}

  /** Everything up to the store; throws StoreKeyError or StateDirLockedError for what retrying cannot fix. */
  static async open(o: EtcdReplicaOptions): Promise<EtcdReplica> {
    const log = o.log ?? ((l) => console.error(l));
    const members = parseEtcdUrl(o.storeUrl);
    const crypto = StoreCrypto.fromFile(o.keyFile);
    const lock = lockStateDir(o.stateDir);
    const etcd = new EtcdClient(members, undefined, o.tls);
    const remote = members.filter((m) => !/^(127\.|\[::1\]|localhost:)/.test(m));
    if (!o.tls && remote.length) log(`trellis control: warning: etcd at ${remote.join(",")} is reached without TLS: the values are sealed, but anyone on that network can delete or roll them back; give --etcd-cacert (and --etcd-cert/--etcd-key when the members check clients)`);
    try {
      await untilReachable(() => checkKey(etcd, crypto), members, o.startLimitMs, log);
      let revocations: SharedRevocations | undefined;
      if (o.ca) {
        const outcome = await syncCaMaterial(etcd, crypto, `${o.stateDir}/ca`, o.ca.plugin);
        log(`trellis control: ${outcome === "created" ? "stored this replica's CA material in" : "using the CA material from"} the etcd store`);
        revocations = new SharedRevocations(etcd, crypto, `${o.stateDir}/ca/token-key.revoked`, log);
        await revocations.sync();
        revocations.start();
      }
      const store = await EtcdStore.open(etcd, crypto, log);
      const lease = new ReplicaLease(etcd, log);
      await lease.start();
      return new EtcdReplica(store, etcd, crypto, lease, lock, revocations, o, log);
    } catch (err) {
      etcd.close();
      lock.release();
      throw err;
    }
  }

  /** Joins the control plane: shares registrations and gateway secrets, serves /debug/replica, does the singleton work when leading. */
  async attach(cp: ControlPlane): Promise<void> {
    this.registrations = new Registrations(this.etcd, this.crypto, this.lease, this.id, cp.registry, () => cp.ads.proxies(), this.log);
    await this.registrations.start();
    this.secrets = new SharedSecrets(this.etcd, this.crypto, cp.secretStore, this.log);
    await this.secrets.start();
    // Ahead of the control plane's own secrets API: the same API, then the write shared with the other replicas.
    cp.apiRoutes.unshift(this.secrets.route());
    const dir = this.options.configDir;
    if (dir) {
      let sync: ConfigDirSync | undefined;
      this.singleton = new Singleton(this.etcd, this.lease, this.id, {
        start: () => { sync = new ConfigDirSync(dir, this.store, this.log, this.options.configDirIntervalMs); return sync.start(); },
        stop: () => { sync?.stop(); sync = undefined; },
      }, this.log);
      this.singleton.start();
    }
    cp.apiRoutes.push(async (_req, res, url) => {
      if (url.pathname !== "/debug/replica") return false;
      send(res, 200, { replica: this.id, leader: this.singleton?.isLeader ?? null, remoteProxies: this.registrations?.remoteRegistrations().map((r) => ({ id: r.workload.id, replica: r.replica })) ?? [] });
      return true;
    });
  }

  registered(w: Workload): void {
    this.registrations?.registered(w);
  }

  unregistered(id: string): void {
    this.registrations?.unregistered(id);
  }

  remoteProxies(): object[] {
    return this.registrations?.remoteProxies() ?? [];
  }

  async stop(): Promise<void> {
    this.singleton?.stop();
    this.registrations?.stop();
    this.revocations?.stop();
    this.secrets?.stop();
    this.store.close();
    await this.lease.stop();
    this.etcd.close();
    this.lock.release();
  }
}

/** Stores our check value on first use; refuses a store sealed under another key before anything is written. */
async function checkKey(etcd: EtcdClient, crypto: StoreCrypto): Promise<void> {
  const stored = await etcd.get(KEY_CHECK);
  if (!stored) {
    const { succeeded } = await etcd.txn([{ key: KEY_CHECK, target: "CREATE", equals: 0 }], [{ put: { key: KEY_CHECK, value: crypto.checkValue(KEY_CHECK) } }]);
    if (succeeded) return;
    return checkKey(etcd, crypto); // another replica set it first: compare with its key
  }
  const why = crypto.verifyCheck(KEY_CHECK, stored.value);
  if (why) throw new StoreKeyError(`refusing to start: ${why}; nothing was written to the store`);
}

/** Runs `step` until etcd answers it, saying each time why not; other errors end the start at once. */
async function untilReachable(step: () => Promise<void>, members: string[], limitMs: number | undefined, log: (line: string) => void): Promise<void> {
  const deadline = limitMs === undefined ? Infinity : Date.now() + limitMs;
  for (let wait = 500; ; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (Date.now() + wait > deadline) throw new StoreUnavailableError(`cannot reach the etcd store at ${members.join(",")}: ${err.message}; gave up after ${limitMs! / 1000}s`, { cause: err });
      log(`trellis control: cannot reach the etcd store at ${members.join(",")} (${err.message}); retrying in ${wait / 1000}s`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
