// Names in REST paths and resource metadata, checked before they reach the store (which keeps a file per resource):
// Kubernetes' rules, so ".", "..", slashes and 300-character names are refused with the rule, never a 500.
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a valid resource name (a DNS subdomain of at most 253 characters), or undefined. */
export function badResourceName(field: string, name: unknown): string | undefined {
  if (typeof name !== "string") return `${field} must be a string, got ${name === null ? "null" : Array.isArray(name) ? "a list" : typeof name}`;
  if (name.length === 0 || name.length > 253 || !SUBDOMAIN.test(name)) {
    return `${field} "${name.length > 80 ? name.slice(0, 80) + "..." : name}" is not a valid name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters`;
  }
  return undefined;
}

/** Why `ns` is not a valid namespace (a DNS label of at most 63 characters), or undefined. */
export function badNamespace(field: string, ns: unknown): string | undefined {
  if (typeof ns !== "string") return `${field} must be a string`;
  if (ns.length > 63 || !LABEL.test(ns)) return `${field} "${ns.slice(0, 80)}" is not a valid namespace: lowercase letters, digits and '-', at most 63 characters`;
  return undefined;
}
