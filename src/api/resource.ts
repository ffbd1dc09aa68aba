// The shape every Istio resource shares, as Kubernetes objects have it.
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  uid?: string;
}

export interface IstioResource<Spec = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
}

/** `Kind/namespace/name`, the identity of a resource whatever its version. */
export function resourceKey(r: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${r.kind}/${r.metadata.namespace ?? "default"}/${r.metadata.name}`;
}
