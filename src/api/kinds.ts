// The kinds Trellis understands, Istio's and the Gateway API's: their API group, served versions and REST plural, as
// Kubernetes names them.
export type Group = "networking.istio.io" | "security.istio.io" | "gateway.networking.k8s.io";

export interface KindInfo {
  kind: string;
  group: Group;
  /** Served versions, preferred first. */
  versions: string[];
  plural: string;
  /** Short names accepted by `trellis get` (as kubectl accepts them). */
  shortNames: string[];
  /** False for cluster-scoped kinds (GatewayClass), which ignore metadata.namespace. */
  namespaced: boolean;
}

const networking = ["v1", "v1beta1", "v1alpha3"];
const security = ["v1", "v1beta1"];
const GW = "gateway.networking.k8s.io";

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
  // The Gateway API's kinds, at the versions its standard (v1) and experimental (v1alpha2) channels serve.
  { kind: "GatewayClass", group: GW, versions: ["v1", "v1beta1"], plural: "gatewayclasses", shortNames: ["gc"], namespaced: false },
  { kind: "Gateway", group: GW, versions: ["v1", "v1beta1"], plural: "gateways", shortNames: ["gtw"], namespaced: true },
  { kind: "HTTPRoute", group: GW, versions: ["v1", "v1beta1"], plural: "httproutes", shortNames: [], namespaced: true },
  { kind: "GRPCRoute", group: GW, versions: ["v1", "v1alpha2"], plural: "grpcroutes", shortNames: [], namespaced: true },
  { kind: "ReferenceGrant", group: GW, versions: ["v1", "v1beta1", "v1alpha2"], plural: "referencegrants", shortNames: ["refgrant"], namespaced: true },
  { kind: "TLSRoute", group: GW, versions: ["v1alpha2", "v1alpha3", "v1"], plural: "tlsroutes", shortNames: [], namespaced: true },
  { kind: "TCPRoute", group: GW, versions: ["v1alpha2"], plural: "tcproutes", shortNames: [], namespaced: true },
];

/** The group of an `apiVersion` ("networking.istio.io/v1" -> "networking.istio.io"; "v1" -> ""). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** True for the Gateway API's kinds, whose "Gateway" is not Istio's. */
export function isGatewayApi(r: { apiVersion: string }): boolean {
  return groupOf(r.apiVersion) === GW;
}

/**
 * Finds a kind by its name, plural, singular or short name, case-insensitively (`vs`, `virtualservice`,
 * `VirtualService`); `gateway` is Istio's, `gateway.gateway.networking.k8s.io` (kubectl's form) or `gtw` the Gateway API's.
 */
export function findKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  const dot = n.indexOf(".");
  const [base, group] = dot < 0 ? [n, undefined] : [n.slice(0, dot), n.slice(dot + 1)];
  return KINDS.find((k) => (group === undefined || k.group === group) && (k.kind.toLowerCase() === base || k.plural === base || k.shortNames.includes(base)));
}

/** The kind for an `apiVersion` and `kind` pair, when Trellis serves that version. */
export function kindFor(apiVersion: string, kind: string): KindInfo | undefined {
  const [group, version] = apiVersion.split("/");
  const info = KINDS.find((k) => k.kind === kind && k.group === group);
  return info && info.versions.includes(version) ? info : undefined;
}
