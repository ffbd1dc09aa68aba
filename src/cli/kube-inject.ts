// `trellis kube-inject -f deployment.yaml`: istioctl kube-inject's offline injection, the same pods the webhook makes.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { injectManifests } from "../control/kube/inject/inject-manifests.js";
import { loadInjectSettings } from "../control/kube/inject/load-settings.js";

const USAGE = `usage: trellis kube-inject -f FILE|- [-o FILE] [--meshConfigFile FILE] [--injectConfigFile FILE] [--istioNamespace NS]

Adds the sidecar (istio-proxy), the interception init step (istio-init) and their volumes to every Pod and pod
template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) in FILE, as the injection webhook would;
other objects pass through. --meshConfigFile reads a MeshConfig (defaultConfig, trustDomain); --injectConfigFile reads
Istio's Helm values or the istio-sidecar-injector ConfigMap's data.values (global.proxy.image and resources, revision,
sidecarInjectorWebhook.nativeSidecar, meshConfig). Pod annotations (sidecar.istio.io/*, traffic.sidecar.istio.io/*,
proxy.istio.io/config) apply as in the webhook; a pod they cannot describe is refused, naming the annotation or port.`;

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args, options: {
      filename: { type: "string", short: "f" },
      output: { type: "string", short: "o" },
      meshConfigFile: { type: "string" },
      injectConfigFile: { type: "string" },
      istioNamespace: { type: "string", default: "istio-system" },
      help: { type: "boolean", short: "h" },
    } }).values;
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.filename) throw new Error("-f FILE is required (- reads standard input)");
  } catch (err) {
    console.error(`trellis kube-inject: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const settings = loadInjectSettings({
      namespace: values.istioNamespace!,
      values: values.injectConfigFile ? { flag: "--injectConfigFile", file: values.injectConfigFile } : undefined,
      mesh: values.meshConfigFile ? { flag: "--meshConfigFile", file: values.meshConfigFile } : undefined,
    });
    const text = readFileSync(values.filename === "-" ? 0 : values.filename, "utf8");
    const result = injectManifests(text, settings, values.filename === "-" ? "stdin" : values.filename);
    if (values.output) writeFileSync(values.output, result.yaml);
    else process.stdout.write(result.yaml);
    for (const s of result.skipped) console.error(`trellis kube-inject: not injected: ${s}`);
    return 0;
  } catch (err) {
    console.error(`trellis kube-inject: ${(err as Error).message}`);
    return 1;
  }
}
