// The Istio kinds Trellis understands: their API group, served versions and REST plural, as Kubernetes names them.
export interface KindInfo {
  kind: string;
  group: "networking.istio.io" | "security.istio.io";
  /** Served versions, preferred first. */
  versions: string[];
  plural: string;
  /** Short names accepted by `trellis get` (as kubectl accepts them). */
  shortNames: string[];
  namespaced: true;
}

const networking = ["v1", "v1beta1", "v1alpha3"];
const security = ["v1", "v1beta1"];

export const KINDS: readonly KindInfo[] = [
  { kind: "VirtualService", group: "networking.istio.io", versions: networking, plural: "virtualservices", shortNames: ["vs"], namespaced: true },
  { kind: "DestinationRule", group: "networking.istio.io", versions: networking, plural: "destinationrules", shortNames: ["dr"], namespaced: true },
  { kind: "Gateway", group: "networking.istio.io", versions: networking, plural: "gateways", shortNames: ["gw"], namespaced: true },
  { kind: "ServiceEntry", group: "networking.istio.io", versions: networking, plural: "serviceentries", shortNames: ["se"], namespaced: true },
  { kind: "WorkloadEntry", group: "networking.istio.io", versions: networking, plural: "workloadentries", shortNames: ["we"], namespaced: true },
  { kind: "Sidecar", group: "networking.istio.io", versions: networking, plural: "sidecars", shortNames: [], namespaced: true },
  { kind: "PeerAuthentication", group: "security.istio.io", versions: security, plural: "peerauthentications", shortNames: ["pa"], namespaced: true },
  { kind: "AuthorizationPolicy", group: "security.istio.io", versions: security, plural: "authorizationpolicies", shortNames: ["ap"], namespaced: true },
  { kind: "RequestAuthentication", group: "security.istio.io", versions: security, plural: "requestauthentications", shortNames: ["ra"], namespaced: true },
];

/** Finds a kind by its name, plural, singular or short name, case-insensitively (`vs`, `virtualservice`, `VirtualService`). */
export function findKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === n || k.plural === n || k.shortNames.includes(n));
}

/** The kind for an `apiVersion` and `kind` pair, when Trellis serves that version. */
export function kindFor(apiVersion: string, kind: string): KindInfo | undefined {
  const [group, version] = apiVersion.split("/");
  const info = KINDS.find((k) => k.kind === kind && k.group === group);
  return info && info.versions.includes(version) ? info : undefined;
}
