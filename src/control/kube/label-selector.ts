// Kubernetes LabelSelector (matchLabels + matchExpressions) as MeshConfig discoverySelectors use it: parsed with
// errors naming the field, and matched against a namespace's labels.
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

/** Validates one selector; returns the problems, each naming its field under `where`. */
export function selectorProblems(value: unknown, where: string): string[] {
  if (!value || typeof value !== "object" || Array.isArray(value)) return [`${where} must be a LabelSelector ({matchLabels, matchExpressions})`];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(v)) if (k !== "matchLabels" && k !== "matchExpressions") problems.push(`${where}.${k} is not a LabelSelector field (matchLabels, matchExpressions are)`);
  if (v.matchLabels !== undefined) {
    if (!v.matchLabels || typeof v.matchLabels !== "object" || Array.isArray(v.matchLabels)) problems.push(`${where}.matchLabels must be a map of label to value`);
    else for (const [k, x] of Object.entries(v.matchLabels)) if (typeof x !== "string") problems.push(`${where}.matchLabels.${k} must be a string`);
  }
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) problems.push(`${where}.matchExpressions must be a list`);
    else v.matchExpressions.forEach((e: Record<string, unknown>, i) => {
      const at = `${where}.matchExpressions[${i}]`;
      if (typeof e?.key !== "string" || !e.key) problems.push(`${at}.key is required`);
      if (!OPERATORS.includes(e?.operator as string)) problems.push(`${at}.operator must be one of ${OPERATORS.join(", ")}`);
      const needsValues = e?.operator === "In" || e?.operator === "NotIn";
      if (needsValues && (!Array.isArray(e.values) || e.values.length === 0 || e.values.some((x) => typeof x !== "string"))) problems.push(`${at}.values must be a non-empty list of strings for ${String(e.operator)}`);
      if (!needsValues && e?.values !== undefined && (e.values as unknown[]).length) problems.push(`${at}.values must be empty for ${String(e.operator)}`);
    });
  }
  return problems;
}

export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
    if (e.operator === "In" && !(has && e.values!.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values!.includes(labels[e.key])) return false;
  }
  return true;
}

/** Istio's rule: no selectors = every namespace; otherwise a namespace is seen when any selector matches it. */
export function namespaceSelected(selectors: LabelSelector[] | undefined, labels: Record<string, string>): boolean {
  return !selectors?.length || selectors.some((s) => matchesSelector(s, labels));
}
