// AuthorizationPolicy -> Envoy RBAC HTTP filters for one workload, following the shapes Istio's authz builder makes.
import type { IstioResource } from "../../api/resource.js";
import type { ExtAuthzHttpProvider } from "../ext-authz-providers.js";
import { EXT_AUTHZ_POLICY_PREFIX, extAuthzFilters, providerTarget } from "./ext-authz-translate.js";

export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: unknown;
  action?: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
  provider?: { name?: string };
  rules?: Rule[];
}

interface Rule {
  from?: Array<{ source?: Source }>;
  to?: Array<{ operation?: Operation }>;
  when?: Condition[];
}

interface Source {
  principals?: string[]; notPrincipals?: string[];
  requestPrincipals?: string[]; notRequestPrincipals?: string[];
  namespaces?: string[]; notNamespaces?: string[];
  ipBlocks?: string[]; notIpBlocks?: string[];
  remoteIpBlocks?: string[]; notRemoteIpBlocks?: string[];
}

interface Operation {
  hosts?: string[]; notHosts?: string[];
  ports?: string[]; notPorts?: string[];
  methods?: string[]; notMethods?: string[];
  paths?: string[]; notPaths?: string[];
}

interface Condition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface WorkloadIdentity {
  namespace: string;
  labels: Record<string, string>;
}

type Json = Record<string, unknown>;

/** The dynamic metadata namespace Trellis' JWT filter writes the verified payload to (Istio's name). */
export const AUTHN_METADATA_FILTER = "istio_authn";
const RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const NETWORK_RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

/** Does the policy apply to this workload? Root-namespace policies are mesh-wide; no selector = whole namespace. */
export function policyApplies(policy: IstioResource<AuthorizationPolicySpec>, workload: WorkloadIdentity, rootNamespace: string): boolean {
  const ns = policy.metadata.namespace ?? "default";
  if (ns !== rootNamespace && ns !== workload.namespace) return false;
  const match = policy.spec.selector?.matchLabels;
  if (!match || Object.keys(match).length === 0) return true;
  return Object.entries(match).every(([k, v]) => workload.labels[k] === v);
}

/** Istio's string matching for principals, hosts and paths: exact, "prefix*", "*suffix", "*" (present). */
function stringMatch(value: string, opts: { ignoreCase?: boolean; prefix?: string } = {}): Json {
  const add = (v: string) => (opts.prefix ? opts.prefix + v : v);
  const ic = opts.ignoreCase ? { ignore_case: true } : {};
  if (value === "*") return { safe_regex: { regex: ".+" } };
  if (value.endsWith("*")) return { prefix: add(value.slice(0, -1)), ...ic };
  if (value.startsWith("*")) return { suffix: value.slice(1), ...ic };
  return { exact: add(value), ...ic };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const or = (key: "or_rules" | "or_ids", list: Json[]): Json => (list.length === 1 ? list[0] : { [key]: { [key === "or_rules" ? "rules" : "ids"]: list } });
const and = (key: "and_rules" | "and_ids", list: Json[]): Json => ({ [key]: { [key === "and_rules" ? "rules" : "ids"]: list } });
const notPerm = (p: Json): Json => ({ not_rule: p });
const notId = (p: Json): Json => ({ not_id: p });

function cidr(block: string): Json {
  const [address, len] = block.split("/");
  const prefix = len !== undefined ? Number(len) : address.includes(":") ? 128 : 32;
  return { address_prefix: address, prefix_len: prefix };
}

function principalName(v: string): Json {
  return { authenticated: { principal_name: stringMatch(v, { prefix: "spiffe://" }) } };
}

function namespaceId(ns: string): Json {
  const pattern = ns === "*" ? ".+" : ns.endsWith("*") ? `${escapeRegex(ns.slice(0, -1))}.*` : ns.startsWith("*") ? `.*${escapeRegex(ns.slice(1))}` : escapeRegex(ns);
  return { authenticated: { principal_name: { safe_regex: { regex: `.*/ns/${pattern}/.*` } } } };
}

function authnMetadata(key: string, value: Json): Json {
  return { metadata: { filter: AUTHN_METADATA_FILTER, path: [{ key }], value } };
}

function requestPrincipalId(v: string): Json {
  return authnMetadata("request.auth.principal", { string_match: stringMatch(v) });
}

function header(name: string, v: string): Json {
  return { header: { name, string_match: stringMatch(v) } };
}

function hostPermission(host: string): Json {
  // Hosts match the :authority with or without a port, case-insensitively, as Istio does.
  const h = host.toLowerCase();
  const authority = (m: Json): Json => ({ header: { name: ":authority", string_match: { ...m, ignore_case: true } } });
  if (h === "*") return { header: { name: ":authority", present_match: true } };
  if (h.endsWith("*")) return authority({ prefix: h.slice(0, -1) });
  if (h.startsWith("*")) {
    return or("or_rules", [authority({ suffix: h.slice(1) }), { header: { name: ":authority", safe_regex_match: { regex: `(?i).*${escapeRegex(h.slice(1))}:[0-9]+` } } }]);
  }
  return or("or_rules", [authority({ exact: h }), authority({ prefix: `${h}:` })]);
}

function pathPermission(path: string): Json {
  return { url_path: { path: stringMatch(path) } };
}

function portPermission(port: string): Json {
  return { destination_port: Number(port) };
}

/** One field of a source or operation: values OR'ed, notValues negated, both AND'ed together. */
function field<T>(values: T[] | undefined, notValues: T[] | undefined, build: (v: T) => Json, kind: "perm" | "id"): Json[] {
  const out: Json[] = [];
  const orKey = kind === "perm" ? "or_rules" : "or_ids";
  if (values && values.length) out.push(or(orKey, values.map(build)));
  if (notValues && notValues.length) out.push(kind === "perm" ? notPerm(or("or_rules", notValues.map(build))) : notId(or("or_ids", notValues.map(build))));
  return out;
}

function sourcePrincipal(s: Source): Json[] {
  return [
    ...field(s.principals, s.notPrincipals, principalName, "id"),
    ...field(s.requestPrincipals, s.notRequestPrincipals, requestPrincipalId, "id"),
    ...field(s.namespaces, s.notNamespaces, namespaceId, "id"),
    ...field(s.ipBlocks, s.notIpBlocks, (b) => ({ direct_remote_ip: cidr(b) }), "id"),
    ...field(s.remoteIpBlocks, s.notRemoteIpBlocks, (b) => ({ remote_ip: cidr(b) }), "id"),
  ];
}

function operationPermission(o: Operation): Json[] {
  return [
    ...field(o.hosts, o.notHosts, hostPermission, "perm"),
    ...field(o.ports, o.notPorts, portPermission, "perm"),
    ...field(o.methods, o.notMethods, (m) => header(":method", m), "perm"),
    ...field(o.paths, o.notPaths, pathPermission, "perm"),
  ];
}

/** A `when` condition goes to the principal side for source attributes and to the permission side otherwise. */
function condition(c: Condition): { side: "perm" | "id"; rules: Json[] } {
  const key = c.key;
  const claim = /^request\.auth\.claims\[(.+)\]$/.exec(key);
  const headerKey = /^request\.headers\[(.+)\]$/.exec(key);
  if (headerKey) return { side: "perm", rules: field(c.values, c.notValues, (v) => header(headerKey[1].toLowerCase(), v), "perm") };
  if (claim) {
    const path = claim[1].split("][");
    return { side: "id", rules: field(c.values, c.notValues, (v) => ({ metadata: { filter: AUTHN_METADATA_FILTER, path: [{ key: "request.auth.claims" }, ...path.map((k) => ({ key: k }))], value: { list_match: { one_of: { string_match: stringMatch(v) } } } } }), "id") };
  }
  switch (key) {
    case "source.ip": return { side: "id", rules: field(c.values, c.notValues, (b) => ({ direct_remote_ip: cidr(b) }), "id") };
    case "remote.ip": return { side: "id", rules: field(c.values, c.notValues, (b) => ({ remote_ip: cidr(b) }), "id") };
    case "source.namespace": return { side: "id", rules: field(c.values, c.notValues, namespaceId, "id") };
    case "source.principal": return { side: "id", rules: field(c.values, c.notValues, principalName, "id") };
    case "request.auth.principal": return { side: "id", rules: field(c.values, c.notValues, requestPrincipalId, "id") };
    case "request.auth.audiences": return { side: "id", rules: field(c.values, c.notValues, (v) => authnMetadata("request.auth.audiences", { string_match: stringMatch(v) }), "id") };
    case "request.auth.presenter": return { side: "id", rules: field(c.values, c.notValues, (v) => authnMetadata("request.auth.presenter", { string_match: stringMatch(v) }), "id") };
    case "destination.ip": return { side: "perm", rules: field(c.values, c.notValues, (b) => ({ destination_ip: cidr(b) }), "perm") };
    case "destination.port": return { side: "perm", rules: field(c.values, c.notValues, portPermission, "perm") };
    case "connection.sni": return { side: "perm", rules: field(c.values, c.notValues, (v) => ({ requested_server_name: stringMatch(v) }), "perm") };
    default: throw new Error(`when.key "${key}" is not supported; use request.headers[...], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[...], destination.ip, destination.port or connection.sni`);
  }
}

function rulePolicy(rule: Rule): Json {
  const conditions = (rule.when ?? []).map(condition);
  const permExtra = conditions.filter((c) => c.side === "perm").flatMap((c) => c.rules);
  const idExtra = conditions.filter((c) => c.side === "id").flatMap((c) => c.rules);
  const tos = rule.to?.length ? rule.to.map((t) => operationPermission(t.operation ?? {})) : [[]];
  const froms = rule.from?.length ? rule.from.map((f) => sourcePrincipal(f.source ?? {})) : [[]];
  const permissions = tos.map((rules) => (rules.length + permExtra.length === 0 ? { any: true } : and("and_rules", [...rules, ...permExtra])));
  const principals = froms.map((ids) => (ids.length + idExtra.length === 0 ? { any: true } : and("and_ids", [...ids, ...idExtra])));
  return { permissions, principals };
}

function policyName(p: IstioResource<AuthorizationPolicySpec>, i: number): string {
  return `ns[${p.metadata.namespace ?? "default"}]-policy[${p.metadata.name}]-rule[${i}]`;
}

/**
 * A rule as it applies to TCP traffic, as Istio translates it: fields only HTTP has (hosts, methods, paths, request
 * principals, request headers and JWT claims) cannot match a TCP connection. An ALLOW rule using them allows no TCP
 * connection (undefined); a DENY rule drops them and so denies more, since failing open is the one wrong answer.
 */
function tcpRule(rule: Rule, action: "ALLOW" | "DENY" | "AUDIT"): Rule | undefined {
  const httpOnlyWhen = (c: Condition) => c.key.startsWith("request.");
  const sources = (rule.from ?? []).map((f) => f.source ?? {});
  const operations = (rule.to ?? []).map((t) => t.operation ?? {});
  const usesHttp = sources.some((s) => s.requestPrincipals?.length || s.notRequestPrincipals?.length)
    || operations.some((o) => o.hosts?.length || o.notHosts?.length || o.methods?.length || o.notMethods?.length || o.paths?.length || o.notPaths?.length)
    || (rule.when ?? []).some(httpOnlyWhen);
  if (!usesHttp) return rule;
  if (action !== "DENY") return undefined;
  return {
    from: rule.from?.map((f) => ({ source: f.source && { ...f.source, requestPrincipals: undefined, notRequestPrincipals: undefined } })),
    to: rule.to?.map((t) => ({ operation: t.operation && { ports: t.operation.ports, notPorts: t.operation.notPorts } })),
    when: rule.when?.filter((c) => !httpOnlyWhen(c)),
  };
}

export interface RbacFilters {
  /** HTTP filters in evaluation order (DENY, then ALLOW, then AUDIT), as proto3 JSON http_filters entries. */
  httpFilters: Json[];
  /** The same policies for a TCP port, as envoy.filters.network.rbac network filters in the same order. */
  networkFilters: Json[];
  /** Policies skipped, with why (CUSTOM without a provider Trellis knows, unsupported condition keys). */
  skipped: Array<{ policy: string; reason: string }>;
  /** The ext_authz service CUSTOM policies call: the proxy needs its outbound cluster. */
  extAuthz?: { hostname: string; port: number; cluster: string };
}

/**
 * Builds the RBAC filters for a workload from every AuthorizationPolicy. With no ALLOW policy, no ALLOW filter is
 * made (everything not denied is allowed); an ALLOW policy without rules allows nothing, as in Istio.
 * A policy whose rules cannot be translated is not dropped silently: for ALLOW it is left out (so it allows
 * nothing) and for DENY it becomes a deny-all, since failing open is the one wrong answer.
 */
export function buildRbacFilters(policies: Array<IstioResource<AuthorizationPolicySpec>>, workload: WorkloadIdentity, rootNamespace = "istio-system", providers: ExtAuthzHttpProvider[] = []): RbacFilters {
  const applying = policies.filter((p) => policyApplies(p, workload, rootNamespace)).sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const byAction: Record<"DENY" | "ALLOW" | "AUDIT", Json> = { DENY: {}, ALLOW: {}, AUDIT: {} };
  const tcpByAction: Record<"DENY" | "ALLOW" | "AUDIT", Json> = { DENY: {}, ALLOW: {}, AUDIT: {} };
  const present = { DENY: false, ALLOW: false, AUDIT: false };
  const skipped: RbacFilters["skipped"] = [];
  // CUSTOM: one provider per workload, as Istio allows; its policies' rules go to a shadow RBAC filter that marks
  // the requests ext_authz must check.
  const custom: Json = {};
  let provider: ExtAuthzHttpProvider | undefined;
  for (const p of applying) {
    const declared = p.spec.action ?? "ALLOW";
    let action = declared === "CUSTOM" ? "DENY" as const : declared;
    if (declared === "CUSTOM") {
      const wanted = providers.find((x) => x.name === p.spec.provider?.name);
      const id = `${p.metadata.namespace}/${p.metadata.name}`;
      // A CUSTOM policy that cannot be honoured denies what it matches (Istio does the same for an unknown
      // provider): skipping it would let through what its author meant to have checked.
      if (!wanted) skipped.push({ policy: id, reason: `provider "${p.spec.provider?.name ?? ""}" is not among the mesh config's extensionProviders (${providers.map((x) => x.name).join(", ") || "none"}): the requests it matches are denied` });
      else if (provider && provider !== wanted) skipped.push({ policy: id, reason: `a workload takes one CUSTOM provider and ${provider.name} already applies: the requests it matches are denied` });
      else {
        provider = wanted;
        (p.spec.rules ?? []).forEach((rule, i) => {
          try {
            custom[EXT_AUTHZ_POLICY_PREFIX + policyName(p, i)] = rulePolicy(rule);
          } catch (err) {
            skipped.push({ policy: id, reason: `${(err as Error).message}: the requests it could match are denied` });
            byAction.DENY[policyName(p, i)] = tcpByAction.DENY[policyName(p, i)] = { permissions: [{ any: true }], principals: [{ any: true }] };
            present.DENY = true;
          }
        });
        // ext_authz checks HTTP only: on a TCP port the policy's connections are denied rather than let through.
        (p.spec.rules ?? []).forEach((rule, i) => {
          const tcp = tcpRule(rule, "DENY");
          if (tcp) { tcpByAction.DENY[policyName(p, i)] = rulePolicy(tcp); present.DENY = true; }
        });
        continue;
      }
      action = "DENY";
    }
    present[action] = true;
    (p.spec.rules ?? []).forEach((rule, i) => {
      try {
        byAction[action][policyName(p, i)] = rulePolicy(rule);
        const tcp = tcpRule(rule, action);
        if (tcp) tcpByAction[action][policyName(p, i)] = rulePolicy(tcp);
      } catch (err) {
        skipped.push({ policy: `${p.metadata.namespace}/${p.metadata.name}`, reason: (err as Error).message });
        if (action === "DENY") byAction.DENY[policyName(p, i)] = tcpByAction.DENY[policyName(p, i)] = { permissions: [{ any: true }], principals: [{ any: true }] };
      }
    });
  }
  const httpFilters: Json[] = provider ? extAuthzFilters(provider, custom, workload.namespace) : [];
  const filter = (name: string, action: string, policiesMap: Json, shadow = false): Json => ({
    name,
    typed_config: { "@type": RBAC_TYPE, ...(shadow ? { shadow_rules: { action, policies: policiesMap }, shadow_rules_stat_prefix: "istio_dry_run_" } : { rules: { action, policies: policiesMap } }) },
  });
  if (present.DENY) httpFilters.push(filter("envoy.filters.http.rbac", "DENY", byAction.DENY));
  if (present.ALLOW) httpFilters.push(filter("envoy.filters.http.rbac", "ALLOW", byAction.ALLOW));
  if (present.AUDIT) httpFilters.push(filter("envoy.filters.http.rbac", "LOG", byAction.AUDIT));
  const networkFilters: Json[] = [];
  const network = (action: string, policiesMap: Json): Json => ({
    name: "envoy.filters.network.rbac",
    typed_config: { "@type": NETWORK_RBAC_TYPE, stat_prefix: "tcp.", rules: { action, policies: policiesMap } },
  });
  if (present.DENY) networkFilters.push(network("DENY", tcpByAction.DENY));
  if (present.ALLOW) networkFilters.push(network("ALLOW", tcpByAction.ALLOW));
  if (present.AUDIT) networkFilters.push(network("LOG", tcpByAction.AUDIT));
  return { httpFilters, networkFilters, skipped, ...(provider ? { extAuthz: providerTarget(provider, workload.namespace) } : {}) };
}
