// `trellis control --store etcd://... --store-key FILE`: the flags checked, and the replica opened before the control
// plane starts. Without --store the embedded file store serves, and the state directory is still locked to this
// process (two control planes on one directory would race on its files).
import type { ControlPlane, ControlPlaneOptions } from "../control-plane.js";
import { EtcdReplica } from "./etcd-replica.js";
import { lockStateDir } from "./state-lock.js";

export interface ReplicaSetup {
  /** Options the control plane is built with: the replica's hooks, and --config-dir left to the singleton. */
  options: Partial<ControlPlaneOptions>;
  attach(cp: ControlPlane): Promise<void>;
  stop(): Promise<void>;
}

export async function replicaFromFlags(store: string | undefined, keyFile: string | undefined, opts: ControlPlaneOptions): Promise<ReplicaSetup> {
  if (store === undefined) {
    if (keyFile !== undefined) throw new Error("--store-key seals the etcd store's values; it needs --store etcd://HOST:PORT,...");
    const lock = lockStateDir(opts.stateDir);
    return { options: {}, attach: async () => {}, stop: async () => lock.release() };
  }
  if (opts.kube) throw new Error("--store etcd://... and Kubernetes mode (--kubeconfig) exclude each other: on Kubernetes the API server is the store");
  if (keyFile === undefined) throw new Error("--store etcd://... needs --store-key FILE: the key (32 random bytes, hex or base64, mode 0600) every replica shares, which seals what is stored");
  const replica = await EtcdReplica.open({
    storeUrl: store, keyFile, stateDir: opts.stateDir, configDir: opts.configDir, configDirIntervalMs: opts.configDirIntervalMs, log: opts.log,
    ca: opts.caPort === undefined ? undefined : { plugin: opts.caPluginDir !== undefined },
  });
  return { options: { replica, configDir: undefined }, attach: (cp) => replica.attach(cp), stop: () => replica.stop() };
}
