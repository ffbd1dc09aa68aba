// `trellis analyze`: validates Istio configuration files before they reach a mesh, as `istioctl analyze` does.
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { analyze } from "../api/analyze.js";
import type { Finding } from "../api/finding.js";
import { loadPaths } from "../api/load.js";
import { SCHEMA_RELEASES } from "../api/schema.js";

const USAGE = `usage: trellis analyze -f PATH [-f PATH ...] [-o text|json|yaml]
       trellis analyze --version

PATH is a YAML or JSON file, a directory (read recursively), or - for stdin. Kubernetes Services and Deployments
found among the files tell the analyzer which services and workloads exist.
Exit status: 0 when there is no error (warnings are printed), 1 when there are errors, 2 when the input cannot
be read or the flags are wrong. Every code is explained in docs/analysis-codes.md.`;

function text(findings: Finding[]): string {
  if (findings.length === 0) return "✔ No validation issues found when analyzing the given configuration.";
  return findings.map((f) => {
    const res = f.resource ? ` (${f.resource.kind} ${f.resource.namespace}/${f.resource.name}${f.path ? ` ${f.path}` : ""})` : "";
    const src = f.source ? ` ${f.source.file}:${f.source.line}` : "";
    return `${f.level} [${f.code}${f.ist ? ` ${f.ist}` : ""}]${res}${src}: ${f.message}`;
  }).join("\n");
}

export async function run(args: string[]): Promise<number> {
  let files: string[];
  let output: string;
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
      filename: { type: "string", short: "f", multiple: true },
      output: { type: "string", short: "o", default: "text" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    } });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.version) {
      console.log(`schemas: Istio ${SCHEMA_RELEASES.istio} (istio.io/api CRDs); Gateway API as packaged by ${SCHEMA_RELEASES.gatewayApi}`);
      return 0;
    }
    if (positionals.length) throw new Error(`unexpected argument "${positionals[0]}"; name inputs with -f PATH`);
    files = values.filename ?? [];
    if (files.length === 0) throw new Error("no input: give at least one -f PATH (a file, a directory, or - for stdin)");
    output = values.output!;
    if (!["text", "json", "yaml"].includes(output)) throw new Error(`-o "${output}" is not a format; use text, json or yaml`);
  } catch (err) {
    console.error(`trellis analyze: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let loaded;
  try {
    loaded = await loadPaths(files);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    console.error(`trellis analyze: cannot read ${e.path ?? "input"}: ${e.code === "ENOENT" ? "no such file or directory" : e.message}`);
    return 2;
  }
  const findings = [...loaded.findings, ...analyze(loaded.resources, {}, loaded.others)];
  if (output === "json") console.log(JSON.stringify(findings, null, 2));
  else if (output === "yaml") console.log(stringify(findings).trimEnd());
  else console.log(text(findings));
  if (loaded.findings.some((f) => f.code === "TRL0001")) return 2;
  return findings.some((f) => f.level === "Error") ? 1 : 0;
}
