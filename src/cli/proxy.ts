// `trellis proxy --bootstrap FILE`: runs the data plane from an Envoy bootstrap, until SIGTERM drains it.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { appMetricsFlag, portFlag } from "./flags.js";
import { formatErrors } from "../xds/result.js";
import { readBootstrap, startProxy } from "../proxy/bootstrap.js";

const USAGE = `usage: trellis proxy --bootstrap FILE [--admin-port N] [--admin-address ADDR] [--readiness-port N] [--drain-timeout SECONDS]
                     [--stats-port N [--app-metrics PORT/PATH]] [--ca HOST:PORT --ca-token-file FILE --ca-roots-file FILE]

Runs a sidecar or gateway proxy configured by an Envoy bootstrap (YAML or JSON): static_resources, admin, and
dynamic_resources.ads_config for a control plane. The admin endpoint binds to 127.0.0.1:15000 unless the
bootstrap or --admin-port/--admin-address say otherwise; readiness answers /healthz/ready (Istio's port is 15021).
--stats-port serves /stats/prometheus with the proxy's metrics followed by the app's own from 127.0.0.1:PORT/PATH
(--app-metrics), as Istio's agent does on 15020.
--ca gets the workload's certificate from the CA (a CSR signed with a key that never leaves the proxy) and renews it at
half-life; it is served to TLS contexts as the SDS secrets "default" and "ROOTCA", as Istio's agent does. Several
control-plane replicas: --ca HOST:PORT,HOST:PORT, and one endpoint per replica in the bootstrap's xDS cluster; the
proxy fails over between them and keeps serving its last config meanwhile.
SIGTERM or SIGINT stops accepting, lets in-flight requests finish for up to the drain timeout (default 5 s), then exits.`;

export async function run(args: string[]): Promise<number> {
  // An injected pod's agent mode (Istio's `pilot-agent proxy sidecar`, `pilot-agent wait`).
  if (args[0] === "sidecar" || args[0] === "wait") return (await import("./proxy-sidecar.js")).run(args);
  let values;
  try {
    values = parseArgs({ args, options: {
      bootstrap: { type: "string", short: "c" },
      "admin-port": { type: "string" },
      "admin-address": { type: "string" },
      "readiness-port": { type: "string" },
      "stats-port": { type: "string" },
      "app-metrics": { type: "string" },
      "drain-timeout": { type: "string", default: "5" },
      ca: { type: "string" },
      "ca-token-file": { type: "string" },
      "ca-roots-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    } }).values;
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.bootstrap) throw new Error("--bootstrap FILE is required");
    portFlag("--admin-port", values["admin-port"]);
    portFlag("--readiness-port", values["readiness-port"]);
    portFlag("--stats-port", values["stats-port"]);
    appMetricsFlag("--app-metrics", values["app-metrics"]);
    if (values["app-metrics"] && !values["stats-port"]) throw new Error("--app-metrics needs --stats-port (where the merged metrics are served)");
    if (values.ca && (!values["ca-token-file"] || !values["ca-roots-file"])) throw new Error("--ca needs --ca-token-file and --ca-roots-file");
    if (!/^\d+(\.\d+)?$/.test(values["drain-timeout"]!)) throw new Error(`--drain-timeout "${values["drain-timeout"]}" must be a number of seconds`);
  } catch (err) {
    console.error(`trellis proxy: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const bootstrap = readBootstrap(values.bootstrap);
  if (!bootstrap.ok) {
    console.error(`trellis proxy: invalid bootstrap ${values.bootstrap}: ${formatErrors(bootstrap.errors)}`);
    return 1;
  }
  let running;
  try {
    running = await startProxy(bootstrap.value, {
      adminPort: portFlag("--admin-port", values["admin-port"]),
      adminAddress: values["admin-address"],
      readinessPort: portFlag("--readiness-port", values["readiness-port"]),
      statsPort: portFlag("--stats-port", values["stats-port"]),
      appMetrics: appMetricsFlag("--app-metrics", values["app-metrics"]),
      drainTimeoutMs: Number(values["drain-timeout"]) * 1000,
      onQuit: () => process.kill(process.pid, "SIGTERM"),
      ca: values.ca ? { address: values.ca, token: () => readFileSync(values["ca-token-file"]!, "utf8").trim(), rootsPem: readFileSync(values["ca-roots-file"]!, "utf8") } : undefined,
    });
  } catch (err) {
    console.error(`trellis proxy: ${(err as Error).message}`);
    return 1;
  }
  console.error(`trellis proxy: admin on 127.0.0.1:${running.adminPort}${running.readinessPort ? `, readiness on :${running.readinessPort}` : ""}${running.statsPort ? `, merged metrics on :${running.statsPort}` : ""}; listeners: ${running.proxy.listenerAddresses().map((l) => `${l.name}=${l.address}:${l.port}`).join(", ") || "none"}`);
  return new Promise<number>((resolve) => {
    const stop = () => {
      console.error("trellis proxy: draining");
      running.stop().then(() => resolve(0), () => resolve(1));
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
