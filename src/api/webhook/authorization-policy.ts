// Istio's webhook rules for AuthorizationPolicy that its CRD schema does not express, after istio/istio
// pkg/config/validation ValidateAuthorizationPolicy: actions and providers, empty sources and operations, values.
import { arr, has, obj, Problems, type WebhookProblem } from "./problems.js";

const SOURCE_FIELDS = ["principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks", "serviceAccounts", "trustDomains"];
const SOURCE_ALL = SOURCE_FIELDS.flatMap((f) => [f, `not${f[0].toUpperCase()}${f.slice(1)}`]);
const OPERATION_FIELDS = ["ports", "methods", "paths", "hosts"].flatMap((f) => [f, `not${f[0].toUpperCase()}${f.slice(1)}`]);
/** Source fields that are L4 (a DENY rule without them denies TCP traffic outright). */
const TCP_SOURCE = ["principals", "notPrincipals", "ipBlocks", "notIpBlocks", "namespaces", "notNamespaces", "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts"];
/** What CUSTOM (ext_authz) cannot match on, as Istio refuses. */
const CUSTOM_SOURCE_UNSUPPORTED = ["namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "trustDomains", "notTrustDomains", "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals"];
const CUSTOM_WHEN_UNSUPPORTED = new Set(["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"]);

function emptyValues(p: Problems, list: unknown, at: string): void {
  arr(list).forEach((v, i) => {
    if (v === "") p.error(`${at}[${i}]`, "an empty value matches nothing; remove it");
  });
}

function source(p: Problems, src: Record<string, unknown>, at: string): void {
  if (!SOURCE_ALL.some((f) => has(src[f]))) p.error(at, `a source must set at least one of ${SOURCE_FIELDS.join(", ")} (or their not- forms); an empty source is refused`, "TRL0012");
  const principalish = ["principals", "notPrincipals", "namespaces", "notNamespaces"].some((f) => has(src[f]));
  if (principalish && (has(src.serviceAccounts) || has(src.notServiceAccounts))) p.error(`${at}.serviceAccounts`, "cannot be set with namespaces or principals (a service account names its namespace)", "TRL0019");
  for (const f of SOURCE_ALL) emptyValues(p, src[f], `${at}.${f}`);
  for (const f of ["serviceAccounts", "notServiceAccounts"]) {
    arr(src[f]).forEach((v, i) => {
      if (typeof v === "string" && v !== "" && (v.includes("*") || !/^([^/]+\/)?[^/]+$/.test(v))) p.error(`${at}.${f}[${i}]`, `"${v}" must be written as "name" or "namespace/name", without wildcards`);
    });
  }
}

function operation(p: Problems, op: Record<string, unknown>, at: string): void {
  if (!OPERATION_FIELDS.some((f) => has(op[f]))) p.error(at, "an operation must set at least one of ports, methods, paths, hosts (or their not- forms); an empty operation is refused", "TRL0012");
  for (const f of OPERATION_FIELDS) emptyValues(p, op[f], `${at}.${f}`);
}

function rule(p: Problems, r: Record<string, unknown>, at: string, action: string): void {
  if (Array.isArray(r.from) && r.from.length === 0) p.error(`${at}.from`, "an empty from list is refused; drop it to match any source", "TRL0012");
  if (Array.isArray(r.to) && r.to.length === 0) p.error(`${at}.to`, "an empty to list is refused; drop it to match any operation", "TRL0012");
  let tcpFrom = false;
  let tcpTo = false;
  arr(r.from).forEach((f, i) => {
    const src = obj(f).source;
    if (src === undefined || src === null) return p.error(`${at}.from[${i}].source`, "each from entry needs a source (from: [{}] is refused)", "TRL0012");
    source(p, obj(src), `${at}.from[${i}].source`);
    if (TCP_SOURCE.some((k) => obj(src)[k] !== undefined)) tcpFrom = true;
  });
  arr(r.to).forEach((t, i) => {
    const op = obj(t).operation;
    if (op === undefined || op === null) return p.error(`${at}.to[${i}].operation`, "each to entry needs an operation (to: [{}] is refused)", "TRL0012");
    operation(p, obj(op), `${at}.to[${i}].operation`);
    if (obj(op).ports !== undefined || obj(op).notPorts !== undefined) tcpTo = true;
  });
  arr(r.when).forEach((w, i) => {
    const c = obj(w);
    if (!has(c.key)) p.error(`${at}.when[${i}].key`, "a condition needs a key", "TRL0012");
    else if (!has(c.values) && !has(c.notValues)) p.error(`${at}.when[${i}]`, `condition "${String(c.key)}" needs values or notValues`, "TRL0012");
  });
  const fromOnly = r.from !== undefined && r.to === undefined;
  if (action === "DENY" && ((fromOnly && !tcpFrom) || (r.to !== undefined && !tcpTo))) {
    p.warn(at, "this DENY rule uses only HTTP attributes, so it denies all TCP traffic in its scope; name the ports to deny");
  }
  if (action !== "CUSTOM") return;
  arr(r.from).forEach((f, i) => {
    const src = obj(obj(f).source);
    for (const k of CUSTOM_SOURCE_UNSUPPORTED) if (has(src[k])) p.error(`${at}.from[${i}].source.${k}`, "is not supported with the CUSTOM action (the external authorizer sees only the request)");
  });
  arr(r.when).forEach((w, i) => {
    const key = String(obj(w).key);
    if (CUSTOM_WHEN_UNSUPPORTED.has(key) || key.startsWith("request.auth.")) p.error(`${at}.when[${i}].key`, `"${key}" is not supported with the CUSTOM action`);
  });
}

export function authorizationPolicyProblems(spec: unknown): WebhookProblem[] {
  const p = new Problems();
  const s = obj(spec);
  const action = typeof s.action === "string" ? s.action : "ALLOW";
  const hasSelector = s.selector !== undefined;
  const targets = [s.targetRef, s.targetRefs].filter((t) => t !== undefined).length;
  if (hasSelector && targets > 0) p.error("spec.targetRefs", "cannot be set with selector; a policy picks workloads either by labels or by target", "TRL0019");
  if (s.targetRef !== undefined && s.targetRefs !== undefined) p.error("spec.targetRefs", "cannot be set with targetRef; list every target in targetRefs", "TRL0019");
  if (action === "CUSTOM") {
    if (s.rules === undefined) p.error("spec.rules", "a CUSTOM policy without rules never triggers; add an empty rule `- {}` to send every request to the provider", "TRL0012");
    else if (!has(obj(s.provider).name)) p.error("spec.provider.name", "a CUSTOM policy needs provider.name, the mesh config's extension provider", "TRL0012");
  } else if (s.provider !== undefined) {
    p.error("spec.provider", `provider is only for the CUSTOM action, not ${action}`, "TRL0019");
  }
  if (action === "DENY" && s.rules === undefined) p.error("spec.rules", "a DENY policy without rules never triggers; add an empty rule `- {}` to deny every request", "TRL0012");
  arr(s.rules).forEach((r, i) => rule(p, obj(r), `spec.rules[${i}]`, action));
  return p.list;
}
