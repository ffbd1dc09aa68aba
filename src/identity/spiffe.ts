// SPIFFE workload identities: spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT.
export const DEFAULT_TRUST_DOMAIN = "cluster.local";

export interface Identity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SA_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function spiffeId(id: Identity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** Parses a SPIFFE ID of Istio's shape; undefined for anything else. */
export function parseSpiffeId(uri: string): Identity | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m) return undefined;
  return { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] };
}

/** An error message when a namespace or service account name is not a valid Kubernetes name, else undefined. */
export function checkIdentityNames(namespace: string, serviceAccount: string): string | undefined {
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) return `namespace "${namespace}" must be a DNS label (lowercase letters, digits and '-', at most 63 characters)`;
  if (!SA_NAME.test(serviceAccount) || serviceAccount.length > 253) return `service account "${serviceAccount}" must be a DNS subdomain name (lowercase letters, digits, '-' and '.')`;
  return undefined;
}
