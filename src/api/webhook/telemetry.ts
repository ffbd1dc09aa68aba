// Istio's webhook rules for Telemetry (after istio/istio pkg/config/validation ValidateTelemetry: one tracing entry
// and one tracing provider, sampling a percentage, tag overrides well formed), and the fields Trellis does not act
// on, refused by name so that a Telemetry is never half applied: metric overrides and reporting intervals, access
// log filter expressions, request-id based sampling, and targetRefs.
import { arr, obj, Problems, type WebhookProblem } from "./problems.js";

function tracing(p: Problems, list: unknown[]): void {
  if (list.length > 1) p.error("spec.tracing", "multiple tracing entries are not supported (Istio refuses them too); merge them into one");
  list.forEach((t, i) => {
    const at = `spec.tracing[${i}]`;
    const rule = obj(t);
    if (arr(rule.providers).length > 1) p.error(`${at}.providers`, "only one tracing provider is supported (Istio refuses more); keep one");
    p.percent(`${at}.randomSamplingPercentage`, rule.randomSamplingPercentage);
    if (rule.useRequestIdForTraceSampling !== undefined) p.error(`${at}.useRequestIdForTraceSampling`, "is not supported: Trellis' proxies sample at random, not from x-request-id; remove it");
    for (const [name, tag] of Object.entries(obj(rule.customTags))) {
      const kinds = ["literal", "environment", "header"].filter((k) => obj(tag)[k] !== undefined);
      if (kinds.length !== 1) p.error(`${at}.customTags.${name}`, "must set exactly one of literal, environment or header");
    }
  });
}

function metrics(p: Problems, list: unknown[]): void {
  list.forEach((m, i) => {
    const at = `spec.metrics[${i}]`;
    const rule = obj(m);
    arr(rule.providers).forEach((pr, j) => {
      const name = obj(pr).name;
      if (typeof name === "string" && name.toLowerCase() !== "prometheus") p.error(`${at}.providers[${j}].name`, `"${name}": Trellis' proxies export metrics to Prometheus only; name prometheus or leave providers out`);
    });
    if (arr(rule.overrides).length) p.error(`${at}.overrides`, "metric overrides (disabling metrics, tag overrides) are not supported yet; the proxies always record Istio's standard metrics with their standard labels. Remove overrides");
    if (rule.reportingInterval !== undefined) p.error(`${at}.reportingInterval`, "is not supported: Prometheus scrapes the proxies at its own interval; remove it");
  });
}

function accessLogging(p: Problems, list: unknown[]): void {
  list.forEach((l, i) => {
    if (obj(l).filter !== undefined) p.error(`spec.accessLogging[${i}].filter`, "filter expressions (CEL) are not supported yet; every request is logged. Remove the filter");
  });
}

export function telemetryProblems(spec: unknown): WebhookProblem[] {
  const p = new Problems();
  const s = obj(spec);
  for (const f of ["targetRef", "targetRefs"]) if (s[f] !== undefined) p.error(`spec.${f}`, "is not supported: Trellis selects workloads by spec.selector (or namespace-wide without one); use a selector");
  tracing(p, arr(s.tracing));
  metrics(p, arr(s.metrics));
  accessLogging(p, arr(s.accessLogging));
  return p.list;
}
