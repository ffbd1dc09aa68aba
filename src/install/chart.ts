// Loads a Helm chart directory (Chart.yaml, values.yaml, values.schema.json, templates/, crds/) and renders it as
// `helm template` does: values = chart defaults <- each -f file <- each --set, checked against the schema, then
// every template except _*.tpl and NOTES.txt, split into documents. trellis install and manifest generate use this.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseDocument } from "yaml";
import { TemplateError, type ParsedFile } from "./template-ast.js";
import { TemplateSet } from "./template-exec.js";
import { isKnownFunction } from "./template-functions.js";
import { parseTemplate } from "./template-parse.js";
import { applySet } from "./set-values.js";
import { checkValues } from "./values-schema.js";

export interface Chart {
  dir: string;
  meta: { name: string; version: string; appVersion?: string };
  defaults: Record<string, unknown>;
  schema: Record<string, unknown> | undefined;
  files: ParsedFile[];
  /** crds/ files, as text (Helm installs them as they are, before the templates, and never upgrades or deletes them). */
  crds: Array<{ source: string; text: string }>;
}

export interface RenderOptions {
  releaseName: string;
  namespace: string;
  /** Values files, applied in order. */
  valueFiles?: string[];
  /** --set arguments, applied in order after the files. */
  sets?: string[];
  /** `.Release.Service`: "Helm" under helm; trellis says itself. */
  service?: string;
}

export interface Manifest { source: string; text: string; object: Record<string, unknown> }

/** The chart shipped with trellis, found from the source tree or from dist/. */
export function bundledChartDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, "charts", "trellis");
    if (existsSync(join(candidate, "Chart.yaml"))) return candidate;
  }
  throw new Error("charts/trellis is missing from this installation");
}

function yamlFile(path: string): unknown {
  try {
    return parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function loadChart(dir = bundledChartDir()): Chart {
  const meta = yamlFile(join(dir, "Chart.yaml")) as Chart["meta"] & { apiVersion?: string };
  if (meta?.apiVersion !== "v2") throw new Error(`${join(dir, "Chart.yaml")}: apiVersion must be v2 (Helm 3 and later)`);
  const defaults = (yamlFile(join(dir, "values.yaml")) ?? {}) as Record<string, unknown>;
  const schemaPath = join(dir, "values.schema.json");
  const schema = existsSync(schemaPath) ? JSON.parse(readFileSync(schemaPath, "utf8")) as Record<string, unknown> : undefined;
  const tdir = join(dir, "templates");
  const files = readdirSync(tdir).filter((f) => /\.(ya?ml|tpl)$/.test(f)).sort().map((f) => {
    const name = `${meta.name}/templates/${f}`;
    return parseTemplate(name, readFileSync(join(tdir, f), "utf8"), isKnownFunction);
  });
  const cdir = join(dir, "crds");
  const crds = existsSync(cdir) ? readdirSync(cdir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => ({ source: `${meta.name}/crds/${f}`, text: readFileSync(join(cdir, f), "utf8") })) : [];
  return { dir, meta, defaults, schema, files, crds };
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Helm's coalescing: maps merge key by key, anything else replaces; a null removes the key. */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k] as Record<string, unknown>, v);
    else out[k] = v;
  }
  return out;
}

/** The values a render uses, refused with every schema problem named. */
export function resolveValues(chart: Chart, opts: Pick<RenderOptions, "valueFiles" | "sets">): Record<string, unknown> {
  let values = structuredClone(chart.defaults);
  for (const f of opts.valueFiles ?? []) {
    const doc = yamlFile(f) ?? {};
    if (!isMap(doc)) throw new Error(`${f}: a values file must be a map of values`);
    values = mergeValues(values, doc);
  }
  for (const s of opts.sets ?? []) applySet(values, s);
  if (chart.schema) {
    const problems = checkValues(values, chart.schema);
    if (problems.length) throw new ValuesError(problems);
  }
  return values;
}

export class ValuesError extends Error {
  readonly code = "TRELLIS_CHART_VALUES";
  constructor(readonly problems: string[]) {
    super(`the values are not valid for this chart (values.schema.json):\n  ${problems.join("\n  ")}`);
  }
}

/** Renders every template into its documents (empty documents dropped, as Helm does). */
export function renderChart(chart: Chart, opts: RenderOptions): Manifest[] {
  const values = resolveValues(chart, opts);
  const set = new TemplateSet(chart.files);
  const out: Manifest[] = [];
  for (const f of chart.files) {
    const base = f.name.slice(f.name.lastIndexOf("/") + 1);
    if (base.startsWith("_") || base === "NOTES.txt") continue;
    const data = {
      Values: values,
      Release: { Name: opts.releaseName, Namespace: opts.namespace, Service: opts.service ?? "trellis", IsInstall: true, IsUpgrade: false, Revision: 1 },
      Chart: { Name: chart.meta.name, Version: chart.meta.version, AppVersion: chart.meta.appVersion ?? "" },
      Template: { Name: f.name, BasePath: `${chart.meta.name}/templates` },
    };
    out.push(...documents(f.name, set.render(f.name, data)));
  }
  return out;
}

/** Splits rendered text on `---` lines as Helm does; documents with only comments or blanks are dropped. */
export function documents(source: string, text: string): Manifest[] {
  const out: Manifest[] = [];
  let line = 1;
  for (const piece of text.split(/^---[ \t]*$/m)) {
    const doc = parseDocument(piece);
    const firstLine = line;
    line += piece.split("\n").length - 1;
    if (doc.errors.length) {
      const e = doc.errors[0];
      throw new TemplateError(source, firstLine + (e.linePos?.[0]?.line ?? 1) - 1, `the rendered YAML does not parse: ${e.message.split("\n")[0]}`);
    }
    const object = doc.toJS() as Record<string, unknown> | null;
    if (object === null || object === undefined) continue;
    if (!isMap(object) || typeof object.kind !== "string") throw new TemplateError(source, firstLine, "a rendered document is not a Kubernetes object (no kind)");
    out.push({ source, text: `${piece.replace(/^\n+/, "").replace(/\s+$/, "")}\n`, object });
  }
  return out;
}
