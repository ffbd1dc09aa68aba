// `trellis demo`: the whole mesh on one machine: the control plane and Istio's Bookinfo (productpage, details,
// reviews v1-v3, ratings), each workload with its sidecar, until Ctrl-C.
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ControlPlane } from "../app/control-plane.js";
import { durationFlag } from "./flags.js";

const USAGE = `usage: trellis demo [--state-dir DIR] [--xds-port N] [--api-port N] [--otlp-port N] [--scrape-interval 5s] [--console-port N]
                    [--transparent] [--traffic RATE] [--gateway-port N]

Starts trellis control and Bookinfo's six workloads with their sidecars, prints the product page's address, and
runs until Ctrl-C. A light traffic generator asks for the product page --traffic times a second (default 1; 0 turns
it off), so the console's graph has something to draw. --transparent (Linux, root) runs every workload in its own
network namespace with iptables interception instead of per-upstream local ports. An ingress gateway (labels
istio=ingressgateway, Gateway port 8080 as Istio's chart has it) listens on 127.0.0.1:--gateway-port (default 8080,
0 = a free port; not in --transparent mode, whose workloads the host cannot reach). Try then, from another terminal:
  trellis apply -f examples/istio/bookinfo/bookinfo-gateway.yaml      (then /productpage through the gateway)
  trellis apply -f examples/istio/bookinfo/destination-rule-all.yaml
  trellis apply -f examples/istio/tasks/request-routing/virtual-service-reviews-test-v2.yaml
  trellis proxy-status`;

const BOOKINFO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "bookinfo");

interface App {
  service: string;
  version: string;
  script: string;
  args: string[];
  upstreams: string[];
}

const APPS: App[] = [
  { service: "details", version: "v1", script: "details.js", args: [], upstreams: [] },
  { service: "ratings", version: "v1", script: "ratings.js", args: [], upstreams: [] },
  { service: "reviews", version: "v1", script: "reviews.js", args: ["--version", "v1"], upstreams: ["ratings:9080"] },
  { service: "reviews", version: "v2", script: "reviews.js", args: ["--version", "v2"], upstreams: ["ratings:9080"] },
  { service: "reviews", version: "v3", script: "reviews.js", args: ["--version", "v3"], upstreams: ["ratings:9080"] },
  { service: "productpage", version: "v1", script: "productpage.js", args: [], upstreams: ["details:9080", "reviews:9080"] },
];

/**
 * Starts the demo's ingress gateway (`trellis gateway`, Gateway port 8080 on 127.0.0.1:hostPort); resolves with its
 * address once it printed it, or undefined (said why) if it did not start.
 */
function startGateway(children: ChildProcess[], hostPort: number, ports: { xds: number; ca: number }, stateDir: string): Promise<string | undefined> {
  const child = spawn(process.execPath, [process.argv[1], "gateway", "--port", `8080=${hostPort}/HTTP`, "--xds", `127.0.0.1:${ports.xds}`, "--ca", `127.0.0.1:${ports.ca}`, "--state-dir", stateDir], { stdio: ["ignore", "inherit", "pipe"] });
  children.push(child);
  return new Promise((resolve) => {
    let started = false;
    const timer = setTimeout(() => { console.error("trellis demo: the ingress gateway did not start within 30 s"); resolve(undefined); }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (!started) console.error(`trellis demo: the ingress gateway exited (${code}); is port ${hostPort} taken? use --gateway-port 0`);
      resolve(undefined);
    });
    child.stderr!.on("data", (d: Buffer) => {
      const text = d.toString();
      process.stderr.write(text);
      const m = /trellis gateway: .*port 8080\/HTTP on (\S+:\d+)/.exec(text);
      if (m && !started) { started = true; clearTimeout(timer); resolve(m[1]); }
    });
  });
}

export async function run(args: string[]): Promise<number> {
  let opts;
  try {
    const { values } = parseArgs({ args, options: { "state-dir": { type: "string", default: ".trellis/demo" }, "xds-port": { type: "string", default: "15010" }, "api-port": { type: "string", default: "15014" }, "otlp-port": { type: "string", default: "4318" }, "scrape-interval": { type: "string" }, "console-port": { type: "string", default: "20001" }, transparent: { type: "boolean" }, traffic: { type: "string", default: "1" }, "gateway-port": { type: "string", default: "8080" }, help: { type: "boolean", short: "h" } } });
    if (values.help) { console.log(USAGE); return 0; }
    for (const f of ["xds-port", "api-port", "otlp-port", "console-port", "gateway-port"] as const) if (!/^\d+$/.test(values[f]!) || Number(values[f]) > 65535) throw new Error(`--${f} "${values[f]}" is not a port`);
    if (!/^\d+(\.\d+)?$/.test(values.traffic!) || Number(values.traffic) > 100) throw new Error(`--traffic "${values.traffic}" must be requests per second, from 0 to 100`);
    if (values.transparent && process.getuid?.() !== 0) throw new Error("--transparent needs root (network namespaces and iptables); run as root or without it");
    opts = { transparent: values.transparent === true, trafficRate: Number(values.traffic), stateDir: values["state-dir"]!, xdsPort: Number(values["xds-port"]), apiPort: Number(values["api-port"]), otlpPort: Number(values["otlp-port"]), scrapeIntervalMs: durationFlag("--scrape-interval", values["scrape-interval"], 5000, 1000), consolePort: Number(values["console-port"]), gatewayPort: Number(values["gateway-port"]) };
  } catch (err) {
    console.error(`trellis demo: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  // Istio's demo profile traces every request.
  const { transparent, trafficRate, gatewayPort, ...cpOpts } = opts;
  const cp = new ControlPlane({ ...cpOpts, caPort: 0, traceSamplingPercent: 100, log: (l) => console.error(l) });
  try {
    await cp.start();
  } catch (err) {
    console.error(`trellis demo: ${(err as Error).message} (is another trellis already running? use --xds-port 0 --api-port 0 --otlp-port 0 --console-port 0)`);
    await cp.stop();
    return 1;
  }
  console.log(`control plane: xDS on 127.0.0.1:${cp.ports.xds}, CA on 127.0.0.1:${cp.ports.ca}, REST API on 127.0.0.1:${cp.ports.api} (export TRELLIS_CONTROL=127.0.0.1:${cp.ports.api})`);
  const children: ChildProcess[] = [];
  let productpage: string | undefined;
  for (const app of APPS) {
    const child = spawn(process.execPath, [
      process.argv[1], "run", "--service", app.service, "--labels", `version=${app.version}`, "--service-account", `bookinfo-${app.service}`,
      "--port", "9080", "--xds", `127.0.0.1:${cp.ports.xds}`, "--ca", `127.0.0.1:${cp.ports.ca}`, "--state-dir", opts.stateDir,
      ...(transparent ? ["--transparent", "--control", `127.0.0.1:${cp.ports.api}`, ...(app.service === "productpage" ? ["--publish"] : [])] : app.upstreams.flatMap((u) => ["--upstream", u])),
      "--", process.execPath, join(BOOKINFO, app.script), ...app.args,
    ], { stdio: ["ignore", "inherit", "pipe"] });
    children.push(child);
    child.stderr!.on("data", (d: Buffer) => {
      const text = d.toString();
      process.stderr.write(text);
      const m = /productpage\.\S+ \(.*(?:sidecar inbound on|published on) (127\.0\.0\.1:\d+)/.exec(text);
      if (m) productpage = m[1];
    });
  }
  const gateway = transparent ? undefined : startGateway(children, gatewayPort, cp.ports, opts.stateDir);
  const deadline = Date.now() + 30_000;
  let ready = false;
  let lastProblem = "productpage's address was not printed";
  while (!ready && Date.now() < deadline) {
    if (productpage) {
      ready = await fetch(`http://${productpage}/productpage`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => { lastProblem = `HTTP ${r.status}`; return r.ok; },
        (err: Error) => { lastProblem = `${err.message}${(err.cause as Error | undefined)?.message ? `: ${(err.cause as Error).message}` : ""}`; return false; },
      );
    }
    if (!ready) await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`console: http://127.0.0.1:${cp.ports.console}/ (traffic graph, metrics, traces, Istio config)`);
  if (productpage && ready) console.log(`Bookinfo is ready: http://${productpage}/productpage (through productpage's sidecar)`);
  const gatewayAddress = await gateway;
  if (gatewayAddress) console.log(`ingress gateway: http://${gatewayAddress}/ (labels istio=ingressgateway, Gateway port 8080); apply examples/istio/bookinfo/bookinfo-gateway.yaml, then http://${gatewayAddress}/productpage`);
  else console.error(`trellis demo: productpage did not come up within 30 s (last answer: ${lastProblem})`);
  // The traffic generator: one GET at a time at the given rate, so a slow mesh is never flooded.
  let generating = ready && trafficRate > 0;
  const generate = async () => {
    while (generating) {
      await fetch(`http://${productpage}/productpage`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.arrayBuffer(), () => undefined);
      await new Promise((r) => setTimeout(r, 1000 / trafficRate));
    }
  };
  if (generating) {
    console.log(`traffic: ${trafficRate} request(s)/s to the product page (--traffic 0 to stop it)`);
    void generate();
  }
  return new Promise((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      generating = false;
      await Promise.all(children.map((c) => new Promise<void>((r) => { if (c.exitCode !== null) return r(); c.once("exit", () => r()); c.kill("SIGTERM"); })));
      await cp.stop();
      resolve(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
