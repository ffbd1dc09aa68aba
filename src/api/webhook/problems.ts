// What the webhook rules share: a collector of problems with their field paths, and the value checks Istio's
// validation applies in many places (durations at millisecond precision, percentages, primes, DNS labels).
import type { Code } from "../codes.js";
import { parseGoDuration } from "../formats.js";

export interface WebhookProblem {
  code: Code;
  path: string;
  message: string;
}

export class Problems {
  readonly list: WebhookProblem[] = [];
  /** A value Istio's webhook refuses. */
  error(path: string, problem: string, code: Code = "TRL0020"): void {
    this.list.push({ code, path, message: `${path}: ${problem}` });
  }
  /** What Istio's webhook accepts with a warning. */
  warn(path: string, problem: string): void {
    this.list.push({ code: "TRL0021", path, message: `${path}: ${problem}` });
  }
  /** Istio's ValidateDuration: at least 1ms, in whole milliseconds. Unparsable text is the format rules' (TRL0014). */
  duration(path: string, value: unknown): void {
    if (typeof value !== "string") return;
    const ms = parseGoDuration(value);
    if (ms === undefined) return;
    if (ms < 1) this.error(path, `"${value}" is shorter than 1ms, the shortest duration Istio takes`, "TRL0014");
    else if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) this.error(path, `"${value}" is finer than a millisecond; Istio takes durations in whole milliseconds`, "TRL0014");
  }
  /** A percentage 0-100. */
  percent(path: string, value: unknown): void {
    if (typeof value === "number" && (value < 0 || value > 100)) this.error(path, `${value} is not a percentage; use 0 to 100`);
  }
  nonNegative(path: string, value: unknown): void {
    if (typeof value === "number" && value < 0) this.error(path, `${value} is negative; use 0 or more`);
  }
}

export function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Set and not empty: a list with entries, a non-empty string or object, any number or boolean. */
export function has(v: unknown): boolean {
  if (v === undefined || v === null || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** Envoy's primality test for Maglev table sizes (Istio uses the same one). */
export function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f * f <= x; f += 2) if (x % f === 0) return false;
  return true;
}

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Istio's exportTo rules: no duplicates ("." counts as the own namespace), "*" alone, "~" alone and only where allowed. */
export function exportToProblems(p: Problems, exportTo: unknown, namespace: string, opts: { allowNone: boolean; selectorScoped?: boolean }): void {
  const list = arr(exportTo).filter((e): e is string => typeof e === "string");
  if (list.length === 0) return;
  const seen = new Set<string>();
  list.forEach((e, i) => {
    const key = e === "." ? namespace : e;
    const path = `spec.exportTo[${i}]`;
    if (seen.has(key)) p.error(path, e === key ? `"${e}" is listed twice` : `"." is the resource's own namespace ${namespace}, listed twice`);
    else if (e === "~" && !opts.allowNone) p.error(path, `"~" (visible to no one) is allowed only on a ServiceEntry`);
    else if (e !== "*" && e !== "~" && key !== namespace && !DNS1123_LABEL.test(key)) p.error(path, `"${e}" is not a namespace name, ".", "*"${opts.allowNone ? ` or "~"` : ""}`);
    seen.add(key);
  });
  if (seen.has("*") && list.length > 1) p.error("spec.exportTo", `"*" (everywhere) cannot be combined with other entries; keep "*" alone or list namespaces`);
  if (seen.has("~") && list.length > 1) p.error("spec.exportTo", `"~" (no one) cannot be combined with other entries`);
  if (opts.selectorScoped && (!seen.has(namespace) || seen.size > 1)) p.error("spec.exportTo", `a DestinationRule with a workloadSelector applies only in its own namespace; use exportTo: ["."] or drop exportTo`);
}
