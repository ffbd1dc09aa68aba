// `trellis analyze`: validates Istio configuration files before they reach a mesh, as `istioctl analyze` does.
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { analyze } from "../api/analyze.js";
import type { Finding } from "../api/finding.js";
import { loadPaths } from "../api/load.js";
import { resourceKey } from "../api/resource.js";
import { SCHEMA_RELEASES } from "../api/schema.js";
import { KubeClient } from "../control/kube/client.js";
import { kubeConnection } from "../control/kube/kube-mode.js";
import { type LiveInputs, readLiveCluster } from "./analyze-live.js";

const USAGE = `usage: trellis analyze -f PATH [-f PATH ...] [-o text|json|yaml]
       trellis analyze --kubeconfig FILE [--kube-context NAME] [-n NAMESPACE] [-f PATH ...] [-o text|json|yaml]
       trellis analyze --version

PATH is a YAML or JSON file, a directory (read recursively), or - for stdin. Kubernetes Namespaces, Services, Pods
and Deployments found among the files tell the analyzer which services and workloads exist, and get checks of their
own. With --kubeconfig the live cluster is analyzed (its Istio and Gateway API resources, Namespaces, Services, Pods
and Deployments; one namespace with -n), together with any -f files, as if they were applied to it.
Exit status: 0 when there is no error (warnings are printed), 1 when there are errors, 2 when the input cannot
be read or the flags are wrong. Every code is explained in docs/analysis-codes.md.`;

function text(findings: Finding[]): string {
  if (findings.length === 0) return "✔ No validation issues found when analyzing the given configuration.";
  return findings.map((f) => {
    const name = f.resource?.namespace ? `${f.resource.namespace}/${f.resource.name}` : f.resource?.name;
    const res = f.resource ? ` (${f.resource.kind} ${name}${f.path ? ` ${f.path}` : ""})` : "";
    const src = f.source ? ` ${f.source.file}:${f.source.line}` : "";
    return `${f.level} [${f.code}${f.ist ? ` ${f.ist}` : ""}]${res}${src}: ${f.message}`;
  }).join("\n");
}

export async function run(args: string[]): Promise<number> {
  let files: string[];
  let output: string;
  let live: { kubeconfig: string; context?: string; namespace?: string } | undefined;
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
      filename: { type: "string", short: "f", multiple: true },
      output: { type: "string", short: "o", default: "text" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
      kubeconfig: { type: "string" },
      "kube-context": { type: "string" },
      namespace: { type: "string", short: "n" },
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
    live = values.kubeconfig === undefined ? undefined : { kubeconfig: values.kubeconfig, context: values["kube-context"], namespace: values.namespace };
    if (!live && (values["kube-context"] !== undefined || values.namespace !== undefined)) throw new Error("--kube-context and -n read a live cluster: add --kubeconfig FILE");
    if (files.length === 0 && !live) throw new Error("no input: give at least one -f PATH (a file, a directory, or - for stdin), or --kubeconfig FILE for a live cluster");
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
  if (live) {
    try {
      const cluster = await readCluster(live);
      // The files are what is about to be applied: a file's resource replaces the cluster's of the same name.
      const fromFiles = new Set(loaded.resources.map((r) => `${r.apiVersion.split("/")[0]}|${resourceKey(r)}`));
      loaded.resources.push(...cluster.resources.filter((r) => !fromFiles.has(`${r.apiVersion.split("/")[0]}|${resourceKey(r)}`)));
      loaded.others.push(...cluster.others);
      if (cluster.notServed.length) console.error(`trellis analyze: the cluster does not serve ${cluster.notServed.join(", ")} (CRDs not installed; trellis install-crds adds Istio's)`);
    } catch (err) {
      console.error(`trellis analyze: cannot read the cluster: ${(err as Error).message}`);
      return 2;
    }
  }
  const findings = [...loaded.findings, ...analyze(loaded.resources, {}, loaded.others)];
  if (output === "json") console.log(JSON.stringify(findings, null, 2));
  else if (output === "yaml") console.log(stringify(findings).trimEnd());
  else console.log(text(findings));
  if (loaded.findings.some((f) => f.code === "TRL0001")) return 2;
  return findings.some((f) => f.level === "Error") ? 1 : 0;
}

async function readCluster(live: { kubeconfig: string; context?: string; namespace?: string }): Promise<LiveInputs> {
  const connection = kubeConnection(live.kubeconfig, live.context);
  if (!connection) throw new Error(`--kubeconfig ${live.kubeconfig} names no cluster`);
  const client = new KubeClient(connection);
  try {
    return await readLiveCluster(client, live.namespace);
  } finally {
    client.close();
  }
}
