// What the control plane asks of the replica set it belongs to (ha/etcd-replica.ts): the shared store, and where
// the registrations of the proxies connected to it go so the other replicas see them.
import type { Workload } from "../registry/registry.js";
import type { ConfigStore } from "../store/config-store.js";

export interface ReplicaHooks {
  store: ConfigStore;
  /** A proxy connected to this replica registered its workload. */
  registered(w: Workload): void;
  /** The last stream of a proxy connected to this replica ended. */
  unregistered(id: string): void;
  /** Proxies connected to the other replicas, as they last reported (each with the replica it is on). */
  remoteProxies(): object[];
  /** Why the CA's root cannot be rotated by this replica (the others would keep the old root), if so. */
  rootRotationRefused?: string;
}
