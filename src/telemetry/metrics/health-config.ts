// Health tolerances as Kiali configures them (its CR's health_config.rate): per namespace, kind and name (regular
// expressions, matched whole), a list of tolerances saying which response codes of which protocol and direction count
// as errors and from what percentage of requests the entity is Degraded or Failure. The first rate entry matching an
// entity applies; its worst tolerance decides. Without a configuration, Trellis' defaults apply (health.ts).
import { parse } from "yaml";

export interface Tolerance {
  code: string;
  protocol: string;
  direction: string;
  /** Percent of requests from which the entity is Degraded (when any error was seen). */
  degraded: number;
  /** Percent of requests from which the entity is Failure. */
  failure: number;
}

export interface RateRule {
  namespace: string;
  kind: string;
  name: string;
  tolerance: Tolerance[];
}

export interface HealthConfig {
  rate: RateRule[];
}

export class HealthConfigError extends Error {}

interface Compiled {
  rule: RateRule;
  namespace: RegExp;
  kind: RegExp;
  name: RegExp;
  tolerances: Array<Tolerance & { codeRe: RegExp; protocolRe: RegExp; directionRe: RegExp }>;
}

function regex(value: unknown, at: string, fallback = ".*"): RegExp {
  const text = value === undefined ? fallback : value;
  if (typeof text !== "string") throw new HealthConfigError(`${at}: must be a regular expression (a string)`);
  try {
    return new RegExp(`^(?:${text})$`);
  } catch (err) {
    throw new HealthConfigError(`${at}: "${text}" is not a regular expression: ${(err as Error).message}`);
  }
}

function percent(value: unknown, at: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0 && value <= 100)) throw new HealthConfigError(`${at}: must be a percentage from 0 to 100`);
  return value;
}

const KNOWN_RULE = new Set(["namespace", "kind", "name", "tolerance"]);
const KNOWN_TOLERANCE = new Set(["code", "protocol", "direction", "degraded", "failure"]);

function unknownFields(o: Record<string, unknown>, known: Set<string>, at: string): void {
  for (const k of Object.keys(o)) if (!known.has(k)) throw new HealthConfigError(`${at}.${k}: not a field (${[...known].join(", ")})`);
}

/** Parses and checks a configuration (YAML or JSON: `rate:` as Kiali's health_config, or the whole health_config). */
export function parseHealthConfig(text: string, source: string): { config: HealthConfig; compiled: Compiled[] } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new HealthConfigError(`${source}: not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const root = (doc && typeof doc === "object" && "health_config" in doc ? (doc as { health_config: unknown }).health_config : doc) as Record<string, unknown> | null;
  if (!root || typeof root !== "object" || !Array.isArray(root.rate)) throw new HealthConfigError(`${source}: rate: a list of {namespace, kind, name, tolerance} is required (Kiali's health_config)`);
  const compiled = root.rate.map((raw, i): Compiled => {
    const at = `rate[${i}]`;
    if (!raw || typeof raw !== "object") throw new HealthConfigError(`${at}: must be a mapping`);
    const r = raw as Record<string, unknown>;
    unknownFields(r, KNOWN_RULE, at);
    if (!Array.isArray(r.tolerance) || r.tolerance.length === 0) throw new HealthConfigError(`${at}.tolerance: a non-empty list is required`);
    const tolerances = r.tolerance.map((rawT, j) => {
      const tAt = `${at}.tolerance[${j}]`;
      if (!rawT || typeof rawT !== "object") throw new HealthConfigError(`${tAt}: must be a mapping`);
      const t = rawT as Record<string, unknown>;
      unknownFields(t, KNOWN_TOLERANCE, tAt);
      if (t.code === undefined) throw new HealthConfigError(`${tAt}.code: required (a regular expression of response codes, e.g. "^5\\\\d\\\\d$")`);
      const degraded = percent(t.degraded, `${tAt}.degraded`, 0);
      const failure = percent(t.failure, `${tAt}.failure`, 100);
      if (failure < degraded) throw new HealthConfigError(`${tAt}: failure (${failure}) is below degraded (${degraded})`);
      return {
        code: String(t.code), protocol: String(t.protocol ?? ".*"), direction: String(t.direction ?? ".*"), degraded, failure,
        codeRe: regex(t.code, `${tAt}.code`), protocolRe: regex(t.protocol, `${tAt}.protocol`), directionRe: regex(t.direction, `${tAt}.direction`),
      };
    });
    const rule: RateRule = { namespace: String(r.namespace ?? ".*"), kind: String(r.kind ?? ".*"), name: String(r.name ?? ".*"), tolerance: tolerances.map(({ codeRe: _c, protocolRe: _p, directionRe: _d, ...t }) => t) };
    return { rule, namespace: regex(r.namespace, `${at}.namespace`), kind: regex(r.kind, `${at}.kind`), name: regex(r.name, `${at}.name`), tolerances };
  });
  return { config: { rate: compiled.map((c) => c.rule) }, compiled };
}

/** Requests of one direction of one entity: total rate, and rate by protocol and response code. */
export interface CodeTraffic {
  rps: number;
  byCode: Map<string, number>;
}

export type ToleranceStatus = "Healthy" | "Degraded" | "Failure" | "NA";

/** The entity's status under the first rule matching it, or undefined when none does (then the defaults apply). */
export function toleranceStatus(compiled: Compiled[], entity: { kind: string; namespace: string; name: string }, direction: "inbound" | "outbound", t: CodeTraffic): { status: ToleranceStatus; errorRatio: number } | undefined {
  const rule = compiled.find((c) => c.namespace.test(entity.namespace) && c.kind.test(entity.kind) && c.name.test(entity.name));
  if (!rule) return undefined;
  if (t.rps <= 0) return { status: "NA", errorRatio: 0 };
  let status: ToleranceStatus = "Healthy";
  let worstRatio = 0;
  for (const tol of rule.tolerances) {
    if (!tol.directionRe.test(direction)) continue;
    let errors = 0;
    for (const [key, rps] of t.byCode) {
      const [protocol, code] = key.split(" ");
      if (tol.protocolRe.test(protocol) && tol.codeRe.test(code)) errors += rps;
    }
    const ratio = errors / t.rps;
    const pct = ratio * 100;
    const s: ToleranceStatus = pct >= tol.failure && errors > 0 ? "Failure" : errors > 0 && pct >= tol.degraded ? "Degraded" : "Healthy";
    if (RANK[s] > RANK[status] || (RANK[s] === RANK[status] && ratio > worstRatio)) [status, worstRatio] = [s, ratio];
  }
  return { status, errorRatio: worstRatio };
}

const RANK: Record<ToleranceStatus, number> = { NA: 0, Healthy: 1, Degraded: 2, Failure: 3 };

export type CompiledHealthConfig = ReturnType<typeof parseHealthConfig>;
