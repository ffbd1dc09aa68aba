// `trellis install-crds`: applies Istio's CRDs for the kinds Trellis serves to a Kubernetes cluster (server-side
// apply, so running it again updates them) and waits until the API server serves them.
import { parseArgs } from "node:util";
import { KubeClient } from "../control/kube/client.js";
import { readFileSync } from "node:fs";
import { crdManifestPath, installCrds, loadCrds } from "../control/kube/crds.js";
import { kubeConnection } from "../control/kube/kube-mode.js";

const USAGE = `usage: trellis install-crds [--kubeconfig FILE] [--kube-context NAME] [--dry-run]

Applies manifests/crds/istio-crds.yaml (the CustomResourceDefinitions of every Istio kind Trellis serves) to the
cluster of --kubeconfig (default: $KUBECONFIG, else the pod's service account) and waits until they are served.
--dry-run prints the manifest instead (kubectl apply --server-side -f - installs it too). Needs permission to
patch customresourcedefinitions.apiextensions.k8s.io.`;

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { kubeconfig: { type: "string" }, "kube-context": { type: "string" }, "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" } } }));
  } catch (err) {
    console.error(`trellis install-crds: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values["dry-run"]) {
    process.stdout.write(readFileSync(crdManifestPath(), "utf8"));
    return 0;
  }
  const crds = loadCrds();
  let client: KubeClient | undefined;
  try {
    const connection = kubeConnection(values.kubeconfig ?? process.env.KUBECONFIG, values["kube-context"]);
    if (!connection) throw new Error("no cluster: pass --kubeconfig FILE (or set KUBECONFIG), or run it in a pod");
    client = new KubeClient(connection);
    for (const name of await installCrds(client, crds)) console.log(`customresourcedefinition ${name} established`);
    return 0;
  } catch (err) {
    console.error(`trellis install-crds: ${(err as Error).message}`);
    return 1;
  } finally {
    client?.close();
  }
}
