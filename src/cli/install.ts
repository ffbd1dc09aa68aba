// `trellis install`: installs (or upgrades) the control plane from the Helm chart's templates, as istioctl install
// does, without Helm: CRDs, then every object by server-side apply, then waits for the control plane to be Ready.
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { durationFlag } from "./flags.js";
import { CHART_FLAGS, CHART_OPTIONS, renderFromFlags } from "./manifest.js";
import { applyManifests, pruneRelease, waitForDeployments } from "../install/apply-manifests.js";
import type { Manifest } from "../install/chart.js";
import { KubeClient, type KubeObject } from "../control/kube/client.js";
import { kubeConnection } from "../control/kube/kube-mode.js";

const USAGE = `usage: trellis install [-f FILE]... [--set KEY=VALUE]... [--revision R] [-n NS] [--name NAME] [--chart DIR]
                       [--kubeconfig FILE [--kube-context NAME]] [--timeout DURATION] [--skip-crds]

Installs the Trellis control plane into a Kubernetes cluster from the same chart Helm installs (objects owned by
field manager trellis-install, applied server-side with --force-conflicts, as istioctl does), then waits up to
--timeout (default 5m) for its Deployments to be Ready. Running it again with other values upgrades in place; a
second revision (--revision canary) installs beside the first. Objects an earlier trellis install of the same
release and revision made that the new rendering lacks are deleted (pruned). Without --kubeconfig: $KUBECONFIG, else in-cluster.
${CHART_FLAGS}
  --skip-crds            do not apply Istio's CRDs (already installed)`;

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { ...CHART_OPTIONS, kubeconfig: { type: "string" }, "kube-context": { type: "string" }, timeout: { type: "string" }, "skip-crds": { type: "boolean" } } }));
  } catch (err) {
    console.error(`trellis install: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  let client: KubeClient | undefined;
  try {
    const timeoutMs = durationFlag("--timeout", values.timeout, 300_000, 1000);
    const { chart, manifests } = renderFromFlags(values);
    const connection = kubeConnection(values.kubeconfig ?? process.env.KUBECONFIG, values["kube-context"]);
    if (!connection) throw new Error("no cluster: give --kubeconfig FILE (or set KUBECONFIG), or run it inside a pod");
    client = new KubeClient(connection);
    const crds = values["skip-crds"] ? [] : chart.crds.flatMap((c) => parseAllDocuments(c.text).map((d) => d.toJS() as KubeObject)).filter((o) => o?.kind === "CustomResourceDefinition");
    const log = (line: string) => console.log(line);
    await applyManifests(client, values.namespace!, crds, manifests, log);
    await pruneRelease(client, values.namespace!, values.name!, revisionOf(manifests), manifests, log);
    await waitForDeployments(client, manifests, timeoutMs, log);
    console.log(`✔ Trellis ${chart.meta.appVersion ?? chart.meta.version}${values.revision ? ` (revision ${values.revision})` : ""} installed in ${values.namespace}`);
    return 0;
  } catch (err) {
    console.error(`trellis install: ${(err as Error).message}`);
    return 1;
  } finally {
    client?.close();
  }
}

/** The revision the rendering was made for (what the chart's istio.io/rev labels say). */
function revisionOf(manifests: Manifest[]): string {
  const labels = (manifests.find((m) => m.object.kind === "Deployment")?.object.metadata as { labels?: Record<string, string> } | undefined)?.labels;
  return labels?.["istio.io/rev"] ?? "default";
}
