// `trellis control --store etcd://... --store-key FILE`: the flags checked, and the replica opened before the control
// plane starts. Without --store the embedded file store serves, and the state directory is still locked to this
// process (two control planes on one directory would race on its files).
import { readFileSync } from "node:fs";
import type { ControlPlane, ControlPlaneOptions } from "../control-plane.js";
import type { EtcdTls } from "../store/etcd-client.js";
import { EtcdReplica } from "./etcd-replica.js";
import { lockStateDir } from "./state-lock.js";

export interface ReplicaSetup {
  /** Options the control plane is built with: the replica's hooks, and --config-dir left to the singleton. */
  options: Partial<ControlPlaneOptions>;
  attach(cp: ControlPlane): Promise<void>;
  stop(): Promise<void>;
}

export interface StoreFlags {
  store?: string;
  storeKey?: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
}

/** --etcd-cacert, --etcd-cert and --etcd-key read; the client pair goes together and needs the CA. */
function tlsFlags(f: StoreFlags): EtcdTls | undefined {
  if ((f.etcdCert === undefined) !== (f.etcdKey === undefined)) throw new Error("--etcd-cert and --etcd-key go together: the client certificate etcd checks and its key");
  if (f.etcdCacert === undefined) {
    if (f.etcdCert !== undefined) throw new Error("--etcd-cert needs --etcd-cacert: the CA that signed the etcd members' certificates");
    return undefined;
  }
  const read = (flag: string, file: string) => {
    try { return readFileSync(file); } catch (err) { throw new Error(`${flag}: cannot read ${file}: ${(err as Error).message}`, { cause: err }); }
  };
  return { ca: read("--etcd-cacert", f.etcdCacert), ...(f.etcdCert ? { cert: read("--etcd-cert", f.etcdCert), key: read("--etcd-key", f.etcdKey!) } : {}) };
}

export async function replicaFromFlags(f: StoreFlags, opts: ControlPlaneOptions): Promise<ReplicaSetup> {
  const { store, storeKey: keyFile } = f;
  if (store === undefined) {
    if (keyFile !== undefined) throw new Error("--store-key seals the etcd store's values; it needs --store etcd://HOST:PORT,...");
    if (f.etcdCacert !== undefined || f.etcdCert !== undefined || f.etcdKey !== undefined) throw new Error("--etcd-cacert, --etcd-cert and --etcd-key are for the etcd store; they need --store etcd://HOST:PORT,...");
    const lock = lockStateDir(opts.stateDir);
    return { options: {}, attach: async () => {}, stop: async () => lock.release() };
  }
  if (opts.kube) throw new Error("--store etcd://... and Kubernetes mode (--kubeconfig) exclude each other: on Kubernetes the API server is the store");
  if (keyFile === undefined) throw new Error("--store etcd://... needs --store-key FILE: the key (32 random bytes, hex or base64, mode 0600) every replica shares, which seals what is stored");
  const replica = await EtcdReplica.open({
    storeUrl: store, keyFile, tls: tlsFlags(f), stateDir: opts.stateDir, configDir: opts.configDir, configDirIntervalMs: opts.configDirIntervalMs, log: opts.log,
    ca: opts.caPort === undefined ? undefined : { plugin: opts.caPluginDir !== undefined },
  });
  return { options: { replica, configDir: undefined }, attach: (cp) => replica.attach(cp), stop: () => replica.stop() };
}
