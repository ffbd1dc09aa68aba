// `trellis manifest generate`: renders the Helm chart (charts/trellis) with the same values Helm takes, as istioctl
// manifest generate does, for people without Helm; `trellis install` applies the same rendering.
import { parseArgs } from "node:util";
import { type Chart, loadChart, type Manifest, renderChart } from "../install/chart.js";

export const CHART_FLAGS = `  -f, --values FILE      a values file (repeatable; later ones win)
  --set KEY=VALUE        a value, as helm --set (repeatable): --set replicas=2 --set meshConfig.accessLogFile=/dev/stdout
  --revision R           the control plane's revision (same as --set revision=R)
  -n, --namespace NS     where the control plane goes (default istio-system)
  --name NAME            the release name (default trellis)
  --chart DIR            another copy of the chart (default: the one shipped with trellis)`;

const USAGE = `usage: trellis manifest generate [-f FILE]... [--set KEY=VALUE]... [--revision R] [-n NS] [--name NAME]
                                 [--chart DIR] [--show-only TEMPLATE]... [--skip-crds]

Prints the Kubernetes objects of the Trellis chart (the one Helm installs) as YAML, Istio's CRDs first. Values are
checked against the chart's values.schema.json; a wrong one is refused naming the field.
${CHART_FLAGS}
  --show-only TEMPLATE   only this template's objects, e.g. templates/rbac.yaml (repeatable)
  --skip-crds            leave out the CRDs`;

export const CHART_OPTIONS = {
  values: { type: "string", short: "f", multiple: true },
  set: { type: "string", multiple: true },
  revision: { type: "string" },
  namespace: { type: "string", short: "n", default: "istio-system" },
  name: { type: "string", default: "trellis" },
  chart: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export interface ChartFlags { values?: string[]; set?: string[]; revision?: string; namespace?: string; name?: string; chart?: string }

/** Loads and renders the chart for the parsed flags. */
export function renderFromFlags(v: ChartFlags): { chart: Chart; manifests: Manifest[] } {
  const chart = loadChart(v.chart);
  const sets = [...(v.set ?? []), ...(v.revision !== undefined ? [`revision=${v.revision}`] : [])];
  return { chart, manifests: renderChart(chart, { releaseName: v.name ?? "trellis", namespace: v.namespace ?? "istio-system", valueFiles: v.values, sets }) };
}

export async function run(args: string[]): Promise<number> {
  if (args[0] !== "generate") {
    console.error(args[0] === "--help" || args[0] === "-h" ? USAGE : `trellis manifest: the subcommand is generate\n\n${USAGE}`);
    return args[0] === "--help" || args[0] === "-h" ? 0 : 2;
  }
  let values;
  try {
    ({ values } = parseArgs({ args: args.slice(1), options: { ...CHART_OPTIONS, "show-only": { type: "string", multiple: true }, "skip-crds": { type: "boolean" } } }));
  } catch (err) {
    console.error(`trellis manifest generate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  try {
    const { chart, manifests } = renderFromFlags(values);
    const only = values["show-only"]?.map((s) => `${chart.meta.name}/${s.replace(/^\.?\/?/, "")}`);
    const missing = only?.filter((o) => !chart.files.some((f) => f.name === o));
    if (missing?.length) throw new Error(`--show-only: ${missing.join(", ")} is not a template of the chart (${chart.files.map((f) => f.name.slice(chart.meta.name.length + 1)).join(", ")})`);
    let out = "";
    if (!values["skip-crds"] && !only) for (const c of chart.crds) out += `---\n# Source: ${c.source}\n${c.text.replace(/^---\n/, "")}`;
    for (const m of manifests) if (!only || only.includes(m.source)) out += `---\n# Source: ${m.source}\n${m.text}`;
    process.stdout.write(out);
    return 0;
  } catch (err) {
    console.error(`trellis manifest generate: ${(err as Error).message}`);
    return 1;
  }
}
