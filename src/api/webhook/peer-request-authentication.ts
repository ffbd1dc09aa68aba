// Istio's webhook rules for PeerAuthentication and RequestAuthentication that their CRD schemas do not express, after
// istio/istio pkg/config/validation ValidatePeerAuthentication and validateJwtRule.
import { arr, has, obj, Problems, type WebhookProblem } from "./problems.js";

export function peerAuthenticationProblems(spec: unknown): WebhookProblem[] {
  const p = new Problems();
  const s = obj(spec);
  const selected = Object.keys(obj(obj(s.selector).matchLabels)).length > 0;
  if (s.portLevelMtls !== undefined && !selected) p.error("spec.portLevelMtls", "port-level mTLS needs a workload selector (a namespace- or mesh-wide policy cannot name ports)", "TRL0019");
  else if (s.portLevelMtls !== undefined && Object.keys(obj(s.portLevelMtls)).length === 0) p.error("spec.portLevelMtls", "if set, it needs at least one port", "TRL0012");
  return p.list;
}

export function requestAuthenticationProblems(spec: unknown): WebhookProblem[] {
  const p = new Problems();
  const s = obj(spec);
  if (s.selector !== undefined && (s.targetRef !== undefined || s.targetRefs !== undefined)) p.error("spec.targetRefs", "cannot be set with selector", "TRL0019");
  arr(s.jwtRules).forEach((raw, i) => {
    const r = obj(raw);
    const at = `spec.jwtRules[${i}]`;
    arr(r.audiences).forEach((a, j) => {
      if (a === "") p.error(`${at}.audiences[${j}]`, "an audience cannot be empty");
    });
    if (!has(r.issuer) && !has(r.jwksUri)) p.error(`${at}.issuer`, "a JWT rule needs an issuer or a jwksUri", "TRL0012");
    if (typeof r.jwksUri === "string" && r.jwksUri !== "" && !/^https?:\/\/[^/\s]+/.test(r.jwksUri)) p.error(`${at}.jwksUri`, `"${r.jwksUri}" is not an http:// or https:// URL`);
    if (typeof r.jwks === "string" && r.jwks !== "") {
      try {
        JSON.parse(r.jwks);
      } catch {
        p.error(`${at}.jwks`, "is not a JSON Web Key Set (it does not parse as JSON)");
      }
    }
    arr(r.fromHeaders).forEach((h, j) => {
      if (!has(obj(h).name)) p.error(`${at}.fromHeaders[${j}].name`, "a header location needs a name", "TRL0012");
    });
    for (const f of ["fromParams", "fromCookies"]) {
      arr(r[f]).forEach((v, j) => {
        if (v === "") p.error(`${at}.${f}[${j}]`, "cannot be empty");
      });
    }
    arr(r.outputClaimToHeaders).forEach((o, j) => {
      const c = obj(o);
      if (!has(c.claim) || !has(c.header)) p.error(`${at}.outputClaimToHeaders[${j}]`, "needs both claim and header", "TRL0012");
      else if (typeof c.header === "string" && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(c.header)) p.error(`${at}.outputClaimToHeaders[${j}].header`, `"${c.header}" is not an HTTP header name`);
    });
    p.duration(`${at}.timeout`, r.timeout);
  });
  return p.list;
}
