// `trellis proxy sidecar` (what an injected pod's istio-proxy container runs, as pilot-agent's `proxy sidecar`): the
// bootstrap from the injected env, the workload certificate from the CA with the pod's istio-token, health and the
// app's rewritten probes on 15021, merged metrics on 15020, drain on SIGTERM. `trellis proxy wait` blocks until the
// sidecar is ready (holdApplicationUntilProxyStarts' postStart hook).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readBootstrap, startProxy } from "../proxy/bootstrap.js";
import { parseAppProbers } from "../proxy/admin/app-probers.js";
import { parseDownwardLabels, podAgentEnv, podBootstrap } from "../proxy/agent/pod-bootstrap.js";
import { formatErrors } from "../xds/result.js";

export const TOKEN_FILE = "/var/run/secrets/tokens/istio-token";
export const ROOTS_FILE = "/var/run/secrets/istio/root-cert.pem";
export const BOOTSTRAP_DIR = "/etc/istio/proxy";
export const LABELS_FILE = "/etc/istio/pod/labels";

const USAGE = `usage: trellis proxy sidecar [--drain-timeout SECONDS]
       trellis proxy wait [--timeout-seconds N] [--url URL]

sidecar: runs an injected pod's proxy from the environment the injector sets (POD_NAME, POD_NAMESPACE, INSTANCE_IP,
SERVICE_ACCOUNT, PROXY_CONFIG, ISTIO_META_*, ISTIO_KUBE_APP_PROBERS, ISTIO_PROMETHEUS_ANNOTATIONS), with the pod's
token ${TOKEN_FILE} and the mesh roots ${ROOTS_FILE}; writes its bootstrap under ${BOOTSTRAP_DIR}.
wait: exits 0 once --url (default http://127.0.0.1:15021/healthz/ready) answers 200, 1 after the timeout (default 60).`;

function appMetrics(env: NodeJS.ProcessEnv): { port: number; path: string } | undefined {
  if (!env.ISTIO_PROMETHEUS_ANNOTATIONS) return undefined;
  const a = JSON.parse(env.ISTIO_PROMETHEUS_ANNOTATIONS) as { port?: string; path?: string };
  const port = Number(a.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`ISTIO_PROMETHEUS_ANNOTATIONS.port "${a.port}" is not a port`);
  return { port, path: a.path || "/metrics" };
}

async function sidecar(args: string[]): Promise<number> {
  let drainSeconds: number;
  let setup;
  try {
    const { values } = parseArgs({ args, options: { "drain-timeout": { type: "string", default: "5" } } });
    if (!/^\d+(\.\d+)?$/.test(values["drain-timeout"]!)) throw new Error(`--drain-timeout "${values["drain-timeout"]}" must be a number of seconds`);
    drainSeconds = Number(values["drain-timeout"]);
    const env = podAgentEnv(process.env, { rootsFile: ROOTS_FILE, labels: existsSync(LABELS_FILE) ? parseDownwardLabels(readFileSync(LABELS_FILE, "utf8")) : {} });
    const probers = process.env.ISTIO_KUBE_APP_PROBERS ? parseAppProbers(process.env.ISTIO_KUBE_APP_PROBERS) : undefined;
    if (probers && !probers.ok) throw new Error(probers.error);
    mkdirSync(BOOTSTRAP_DIR, { recursive: true });
    const file = join(BOOTSTRAP_DIR, "envoy-rev.json");
    writeFileSync(file, JSON.stringify(podBootstrap(env), null, 2));
    const bootstrap = readBootstrap(file);
    if (!bootstrap.ok) throw new Error(`the bootstrap made from the environment is invalid: ${formatErrors(bootstrap.errors)}`);
    setup = { env, bootstrap: bootstrap.value, probers: probers?.ok ? probers.value : undefined, metrics: appMetrics(process.env) };
  } catch (err) {
    console.error(`trellis proxy sidecar: ${(err as Error).message}`);
    return 2;
  }
  let running;
  try {
    running = await startProxy(setup.bootstrap, {
      readinessPort: 15021, readinessAddress: "0.0.0.0", statsPort: 15020, statsAddress: "0.0.0.0", appMetrics: setup.metrics,
      appProbers: setup.probers ? { probers: setup.probers, appHost: setup.env.instanceIp } : undefined,
      drainTimeoutMs: drainSeconds * 1000,
      onQuit: () => process.kill(process.pid, "SIGTERM"),
      // The token is read on every use: the kubelet rotates the projected file.
      ca: { address: setup.env.discoveryAddress, token: () => readFileSync(TOKEN_FILE, "utf8").trim(), rootsPem: readFileSync(ROOTS_FILE, "utf8") },
    });
  } catch (err) {
    console.error(`trellis proxy sidecar: ${(err as Error).message}`);
    return 1;
  }
  console.error(`trellis proxy sidecar: pod ${setup.env.namespace}/${setup.env.podName} (uid ${process.getuid?.()}), xDS and CA at ${setup.env.discoveryAddress}, health on :15021, merged metrics on :15020`);
  return new Promise<number>((resolve) => {
    const stop = () => {
      console.error(`trellis proxy sidecar: draining for up to ${drainSeconds} s`);
      running.stop().then(() => resolve(0), () => resolve(1));
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

async function wait(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args, options: { "timeout-seconds": { type: "string", default: "60" }, url: { type: "string", default: "http://127.0.0.1:15021/healthz/ready" } } }).values;
    if (!/^\d+$/.test(values["timeout-seconds"]!)) throw new Error(`--timeout-seconds "${values["timeout-seconds"]}" must be a whole number of seconds`);
    if (!/^http:\/\//.test(values.url!)) throw new Error(`--url "${values.url}" must be an http:// URL`);
  } catch (err) {
    console.error(`trellis proxy wait: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const deadline = Date.now() + Number(values["timeout-seconds"]) * 1000;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    const ok = await fetch(values.url!, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false);
    if (ok) return 0;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.error(`trellis proxy wait: the sidecar was not ready within ${values["timeout-seconds"]} s`);
  return 1;
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  return args[0] === "wait" ? wait(args.slice(1)) : sidecar(args.slice(1));
}
