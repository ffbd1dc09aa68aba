// Envoy's RBAC (envoy.config.rbac.v3.RBAC) compiled once per config into predicates over a request's attributes.
import { BlockList, isIPv6 } from "node:net";
import type { RBAC__Output } from "../../xds/generated/envoy/config/rbac/v3/RBAC.js";
import type { Permission__Output } from "../../xds/generated/envoy/config/rbac/v3/Permission.js";
import type { Principal__Output } from "../../xds/generated/envoy/config/rbac/v3/Principal.js";
import type { CidrRange__Output } from "../../xds/generated/envoy/config/core/v3/CidrRange.js";
import type { MetadataMatcher__Output } from "../../xds/generated/envoy/type/matcher/v3/MetadataMatcher.js";
import type { ValueMatcher__Output } from "../../xds/generated/envoy/type/matcher/v3/ValueMatcher.js";
import { type HeaderGetter, type Predicate, compileHeaderMatcher, compileStringMatcher } from "../matchers/string-matcher.js";

/** What RBAC rules can look at. Built once per request by the filter, only when an RBAC filter is configured. */
export interface RbacRequest {
  /** Request headers by lower-case name, including `:method`, `:path`, `:authority`. */
  header: HeaderGetter;
  /** The path without its query string. */
  path: string;
  destinationIp: string;
  destinationPort: number;
  /** The downstream connection's peer address. */
  directRemoteIp: string;
  /** The original client address (x-forwarded-for aware when the connection manager trusts it). */
  remoteIp: string;
  /** The peer certificate's URI SAN (SPIFFE ID), or its subject when it has no URI SAN; undefined without mTLS. */
  principal?: string;
  requestedServerName?: string;
  /** Dynamic metadata written by earlier filters, e.g. `envoy.filters.http.jwt_authn` -> its payload by issuer. */
  metadata(filter: string): unknown;
}

export interface RbacDecision {
  allowed: boolean;
  /** The policy that decided (the matching DENY/ALLOW policy), when one did. */
  policy?: string;
}

export interface CompiledRbac {
  action: "ALLOW" | "DENY" | "LOG";
  evaluate(req: RbacRequest): RbacDecision;
}

function compileCidr(c: CidrRange__Output): Predicate<string> {
  const list = new BlockList();
  const family = isIPv6(c.address_prefix) ? "ipv6" : "ipv4";
  const len = c.prefix_len ? c.prefix_len.value : family === "ipv6" ? 128 : 32;
  list.addSubnet(c.address_prefix, len, family);
  return (ip) => {
    if (!ip) return false;
    const mapped = ip.startsWith("::ffff:") && family === "ipv4" ? ip.slice(7) : ip;
    try {
      return list.check(mapped, isIPv6(mapped) ? "ipv6" : "ipv4");
    } catch {
      return false;
    }
  };
}

function compileValueMatcher(m: ValueMatcher__Output): Predicate<unknown> {
  switch (m.match_pattern) {
    case "null_match": return (v) => v === null || v === undefined;
    case "present_match": return (v) => (v !== undefined) === m.present_match;
    case "bool_match": return (v) => v === m.bool_match;
    case "string_match": { const s = compileStringMatcher(m.string_match!); return (v) => typeof v === "string" && s(v); }
    case "double_match": {
      const d = m.double_match!;
      if (d.match_pattern === "exact") return (v) => v === d.exact;
      const r = d.range!;
      return (v) => typeof v === "number" && v >= r.start && v < r.end;
    }
    case "list_match": { const one = compileValueMatcher(m.list_match!.one_of!); return (v) => Array.isArray(v) && v.some(one); }
    case "or_match": { const all = m.or_match!.value_matchers.map(compileValueMatcher); return (v) => all.some((p) => p(v)); }
    default: return () => false;
  }
}

function compileMetadata(m: MetadataMatcher__Output): Predicate<RbacRequest> {
  const keys = m.path.map((p) => p.key ?? "");
  const value = m.value ? compileValueMatcher(m.value) : () => false;
  return (req) => {
    let cur: unknown = req.metadata(m.filter);
    for (const k of keys) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined;
    return value(cur) !== m.invert;
  };
}

function compilePermission(p: Permission__Output): Predicate<RbacRequest> {
  switch (p.rule) {
    case "any": return () => true;
    case "and_rules": { const all = p.and_rules!.rules.map(compilePermission); return (r) => all.every((f) => f(r)); }
    case "or_rules": { const all = p.or_rules!.rules.map(compilePermission); return (r) => all.some((f) => f(r)); }
    case "not_rule": { const inner = compilePermission(p.not_rule!); return (r) => !inner(r); }
    case "header": { const h = compileHeaderMatcher(p.header!); return (r) => h(r.header); }
    case "url_path": { const s = compileStringMatcher(p.url_path!.path!); return (r) => s(r.path); }
    case "destination_ip": { const c = compileCidr(p.destination_ip!); return (r) => c(r.destinationIp); }
    case "destination_port": { const port = p.destination_port!; return (r) => r.destinationPort === port; }
    case "destination_port_range": { const { start, end } = p.destination_port_range!; return (r) => r.destinationPort >= start && r.destinationPort < end; }
    case "metadata": return compileMetadata(p.metadata!);
    case "requested_server_name": { const s = compileStringMatcher(p.requested_server_name!); return (r) => s(r.requestedServerName ?? ""); }
    default:
      // Rules Trellis does not evaluate match nothing, so an ALLOW is not widened and a DENY is not narrowed silently;
      // the filter rejects such configs at load time (see unsupportedRule).
      return () => false;
  }
}

function compilePrincipal(p: Principal__Output): Predicate<RbacRequest> {
  switch (p.identifier) {
    case "any": return () => true;
    case "and_ids": { const all = p.and_ids!.ids.map(compilePrincipal); return (r) => all.every((f) => f(r)); }
    case "or_ids": { const all = p.or_ids!.ids.map(compilePrincipal); return (r) => all.some((f) => f(r)); }
    case "not_id": { const inner = compilePrincipal(p.not_id!); return (r) => !inner(r); }
    case "authenticated": {
      // No principal_name means "any authenticated peer".
      const name = p.authenticated!.principal_name;
      if (!name) return (r) => r.principal !== undefined;
      const s = compileStringMatcher(name);
      return (r) => r.principal !== undefined && s(r.principal);
    }
    case "source_ip":
    case "direct_remote_ip": { const c = compileCidr((p.source_ip ?? p.direct_remote_ip)!); return (r) => c(r.directRemoteIp); }
    case "remote_ip": { const c = compileCidr(p.remote_ip!); return (r) => c(r.remoteIp); }
    case "header": { const h = compileHeaderMatcher(p.header!); return (r) => h(r.header); }
    case "url_path": { const s = compileStringMatcher(p.url_path!.path!); return (r) => s(r.path); }
    case "metadata": return compileMetadata(p.metadata!);
    default: return () => false;
  }
}

const PERMISSION_RULES = new Set(["any", "and_rules", "or_rules", "not_rule", "header", "url_path", "destination_ip", "destination_port", "destination_port_range", "metadata", "requested_server_name"]);
const PRINCIPAL_IDS = new Set(["any", "and_ids", "or_ids", "not_id", "authenticated", "source_ip", "direct_remote_ip", "remote_ip", "header", "url_path", "metadata"]);

/** The path of the first permission or principal kind Trellis cannot evaluate, for a NACK; undefined when all are known. */
export function unsupportedRule(rbac: RBAC__Output, base = "rules"): string | undefined {
  const walkPerm = (p: Permission__Output, path: string): string | undefined => {
    if (!p.rule || !PERMISSION_RULES.has(p.rule)) return `${path}: permission kind "${p.rule ?? "(none)"}" is not supported`;
    const kids = p.and_rules?.rules ?? p.or_rules?.rules ?? (p.not_rule ? [p.not_rule] : []);
    for (let i = 0; i < kids.length; i++) { const bad = walkPerm(kids[i], `${path}.${p.rule}[${i}]`); if (bad) return bad; }
    return undefined;
  };
  const walkId = (p: Principal__Output, path: string): string | undefined => {
    if (!p.identifier || !PRINCIPAL_IDS.has(p.identifier)) return `${path}: principal kind "${p.identifier ?? "(none)"}" is not supported`;
    const kids = p.and_ids?.ids ?? p.or_ids?.ids ?? (p.not_id ? [p.not_id] : []);
    for (let i = 0; i < kids.length; i++) { const bad = walkId(kids[i], `${path}.${p.identifier}[${i}]`); if (bad) return bad; }
    return undefined;
  };
  for (const [name, policy] of Object.entries(rbac.policies)) {
    if (policy.condition) return `${base}.policies.${name}.condition: CEL conditions are not supported; express the rule with permissions and principals`;
    for (let i = 0; i < policy.permissions.length; i++) { const bad = walkPerm(policy.permissions[i], `${base}.policies.${name}.permissions[${i}]`); if (bad) return bad; }
    for (let i = 0; i < policy.principals.length; i++) { const bad = walkId(policy.principals[i], `${base}.policies.${name}.principals[${i}]`); if (bad) return bad; }
  }
  return undefined;
}

/**
 * ALLOW: allowed when some policy matches. DENY: denied when some policy matches. LOG: always allowed (the match is
 * reported so access logs can mark it). A policy matches when any permission and any principal match.
 * Policies are evaluated in name order, as Envoy's map iteration is, so the reported policy is deterministic.
 */
export function compileRbac(rbac: RBAC__Output): CompiledRbac {
  const policies = Object.entries(rbac.policies).sort(([a], [b]) => a.localeCompare(b)).map(([name, p]) => {
    const perms = p.permissions.map(compilePermission);
    const ids = p.principals.map(compilePrincipal);
    return { name, matches: (r: RbacRequest) => perms.some((f) => f(r)) && ids.some((f) => f(r)) };
  });
  const action = rbac.action === "DENY" ? "DENY" : rbac.action === "LOG" ? "LOG" : "ALLOW";
  const firstMatch = (r: RbacRequest) => policies.find((p) => p.matches(r))?.name;
  switch (action) {
    case "ALLOW": return { action, evaluate: (r) => { const policy = firstMatch(r); return { allowed: policy !== undefined, policy }; } };
    case "DENY": return { action, evaluate: (r) => { const policy = firstMatch(r); return { allowed: policy === undefined, policy }; } };
    default: return { action, evaluate: (r) => ({ allowed: true, policy: firstMatch(r) }) };
  }
}
