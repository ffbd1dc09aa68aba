// What the control plane, REST API and --config-dir need of a config store, met by the embedded file store and by
// the Kubernetes store (Istio's CRDs on the API server). Reads come from memory; writes may go over the network,
// so callers await put and delete.
import type { EventEmitter } from "node:events";
import type { IstioResource } from "../../api/resource.js";
import type { QuarantinedResource } from "./quarantine.js";

export type { StoreEvent } from "./store.js";
export { ConflictError, NotFoundError } from "./store.js";
export type { QuarantinedResource } from "./quarantine.js";

export interface PutOptions {
  /** Write only if the stored resourceVersion still is this one (409 otherwise). */
  expectVersion?: string;
  /** Create only (409 if it exists). */
  mustNotExist?: boolean;
}

export interface ConfigStore extends Pick<EventEmitter, "on" | "off" | "once"> {
  list(kind?: string, namespace?: string): IstioResource[];
  get(kind: string, namespace: string, name: string): IstioResource | undefined;
  /** Grows with every change: the list's resourceVersion in the REST API. */
  version(): number;
  /** Creates or replaces; throws ConflictError on a version or existence mismatch. */
  put(resource: IstioResource, opts?: PutOptions): IstioResource | Promise<IstioResource>;
  /** Throws NotFoundError when there is nothing to delete. */
  delete(kind: string, namespace: string, name: string): IstioResource | Promise<IstioResource>;
  /** The file store only: removes a resource set aside at load under a name now refused (undefined if none). */
  deleteQuarantined?(kind: string, namespace: string, name: string): QuarantinedResource | undefined;
}
