// `trellis run`: starts one workload with its sidecar (explicit mode): the sidecar first, then the app, signals to
// both, the app stopped first and the sidecar drained after it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { supervise } from "../universal/supervisor.js";
import { appMetricsFlag } from "./flags.js";
import { TokenIssuer } from "../control/ca/tokens.js";
import { appEnv, freePort, nodeId, parseLabels, parseUpstream, pickPorts, sidecarBootstrap, type WorkloadSpec } from "../universal/workload-spec.js";

const USAGE = `usage: trellis run --service NAME [-n NS] [--labels version=v1,...] [--service-account SA]
                   --port PORT[/PROTOCOL] [--upstream SERVICE:PORT[=LOCALPORT] ...]
                   [--app-metrics [PORT]/PATH] [--xds HOST:PORT] [--ca HOST:PORT] [--state-dir DIR] -- CMD [ARGS...]

Runs CMD as a workload of the mesh. The app listens on 127.0.0.1:$PORT (a free port Trellis picks); peers reach it
through its sidecar as SERVICE:PORT. Each --upstream gets a local port on 127.0.0.1 that leads to that service
through the mesh; the app finds it in NAME_HOSTNAME and NAME_SERVICE_PORT (as Istio's Bookinfo reads them).
PROTOCOL is HTTP (default), HTTP2, GRPC or TCP. With --ca (the control plane's --ca-port), the sidecar gets a
SPIFFE certificate for spiffe://cluster.local/ns/NS/sa/SA and sidecars talk mutual TLS (a token from the state dir
proves the identity). --xds names the control plane (default 127.0.0.1:15010). The sidecar's merged metrics port
(Istio's 15020) serves its metrics and, with --app-metrics, the app's own from that path (on the app's port unless
PORT is given), as Istio's prometheus.io/port and prometheus.io/path annotations say.
Transparent mode (--transparent, network namespaces and iptables) is not available in this version.`;

export async function run(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const own = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1) : [];
  let spec: WorkloadSpec;
  let stateDir: string;
  let caAddress: string | undefined;
  let appMetrics: string | undefined;
  try {
    const { values } = parseArgs({ args: own, options: {
      service: { type: "string" }, namespace: { type: "string", short: "n", default: "default" }, labels: { type: "string" },
      "service-account": { type: "string" }, port: { type: "string" }, upstream: { type: "string", multiple: true },
      xds: { type: "string", default: "127.0.0.1:15010" }, "state-dir": { type: "string", default: ".trellis" }, ca: { type: "string" },
      transparent: { type: "boolean" }, "app-metrics": { type: "string" }, help: { type: "boolean", short: "h" },
    } });
    if (values.help) { console.log(USAGE); return 0; }
    if (values.transparent) throw new Error("--transparent is not available in this version; run without it (explicit mode)");
    if (!values.service) throw new Error("--service NAME is required");
    if (!values.port) throw new Error("--port PORT[/PROTOCOL] is required");
    if (command.length === 0) throw new Error("give the app's command after --");
    const pm = /^(\d+)(?:\/(HTTP|HTTP2|GRPC|TCP))?$/i.exec(values.port);
    if (!pm || Number(pm[1]) < 1 || Number(pm[1]) > 65535) throw new Error(`--port "${values.port}" must be PORT or PORT/PROTOCOL (HTTP, HTTP2, GRPC, TCP)`);
    const upstreams = [];
    for (const u of values.upstream ?? []) {
      const p = parseUpstream(u);
      upstreams.push({ service: p.service, port: p.port, localPort: p.localPort ?? (await freePort()) });
    }
    spec = {
      service: values.service, namespace: values.namespace!, labels: parseLabels(values.labels), serviceAccount: values["service-account"] ?? values.service,
      servicePort: Number(pm[1]), protocol: (pm[2] ?? "HTTP").toUpperCase(), upstreams, xdsAddress: values.xds!,
    };
    stateDir = values["state-dir"]!;
    caAddress = values.ca;
    // Checked now; the app's port is only known once ports are picked.
    appMetricsFlag("--app-metrics", values["app-metrics"], 1);
    appMetrics = values["app-metrics"];
  } catch (err) {
    console.error(`trellis run: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const ports = await pickPorts();
  const appMetricsTarget = appMetricsFlag("--app-metrics", appMetrics, ports.app);
  const statsArgs = ["--stats-port", String(ports.stats), ...(appMetricsTarget ? ["--app-metrics", `${appMetricsTarget.port}${appMetricsTarget.path}`] : [])];
  const id = nodeId(spec);
  const dir = join(stateDir, "workloads");
  mkdirSync(dir, { recursive: true });
  const bootstrapFile = join(dir, `${id}.json`);
  const caArgs: string[] = [];
  if (caAddress) {
    // The bootstrap token proves this workload's identity to the CA; only who can read the state dir can mint one.
    let token: string;
    try {
      token = TokenIssuer.open(join(stateDir, "ca", "token-key"), "cluster.local").issue(spec.namespace, spec.serviceAccount, 3600);
    } catch (err) {
      console.error(`trellis run: cannot issue a bootstrap token: ${(err as Error).message}`);
      return 1;
    }
    const tokenFile = join(dir, `${id}.token`);
    writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
    caArgs.push("--ca", caAddress, "--ca-token-file", tokenFile, "--ca-roots-file", join(stateDir, "ca", "root-cert.pem"));
  }
  writeFileSync(bootstrapFile, JSON.stringify(sidecarBootstrap(spec, ports, id, caAddress !== undefined), null, 2));
  console.error(`trellis run: ${spec.service}.${spec.namespace} (${id}): app on 127.0.0.1:${ports.app}, sidecar inbound on 127.0.0.1:${ports.inbound}, admin on 127.0.0.1:${ports.admin}, metrics on 127.0.0.1:${ports.stats}` +
    (spec.upstreams.length ? `; upstreams ${spec.upstreams.map((u) => `${u.service}:${u.port} -> 127.0.0.1:${u.localPort}`).join(", ")}` : ""));
  return supervise({
    sidecar: { command: process.execPath, args: [process.argv[1], "proxy", "--bootstrap", bootstrapFile, "--readiness-port", String(ports.readiness), ...statsArgs, ...caArgs] },
    app: { command: command[0], args: command.slice(1), env: appEnv(spec, ports) },
    readyUrl: `http://127.0.0.1:${ports.readiness}/healthz/ready`,
    log: (l) => console.error(`trellis run: ${l}`),
  });
}
