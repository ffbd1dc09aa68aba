// `trellis gateway`: an ingress or egress gateway in universal mode: `trellis proxy` with no workload behind it,
// announced as Istio's gateways are (node type "router", labels such as istio=ingressgateway), so the Gateways that
// select those labels give it listeners on the ports it publishes on this host.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PROXY_NODE_FLAGS } from "./proxy-node-flags.js";
import { caArgsFor, rootsFile } from "./run.js";
import { freePort, parseLabels, sidecarBootstrap, type WorkloadSpec } from "../universal/workload-spec.js";

const USAGE = `usage: trellis gateway [--name istio-ingressgateway] [-n istio-system] [--labels istio=ingressgateway]
                       [--port PORT[=HOSTPORT][/PROTOCOL] ...] [--address 127.0.0.1]
                       [--xds HOST:PORT] [--ca HOST:PORT] [--state-dir DIR]

Runs a gateway proxy. Gateways (networking.istio.io) whose selector matches its labels configure it: each server
port becomes a listener, bound on ADDRESS:HOSTPORT (HOSTPORT defaults to PORT; 0 picks a free one). PORT is the
Gateway server's port.number; PROTOCOL (HTTP, HTTPS, TLS, TCP; default HTTP) is how mesh workloads calling the
gateway as the service NAME.NAMESPACE see the port (an egress gateway). Without --port: 8080/HTTP and 8443/HTTPS,
as Istio's chart. --address is where the listeners bind and where the mesh reaches the gateway (loopback by
default; 0.0.0.0 to take traffic from other machines). With --ca the gateway gets the mesh identity
spiffe://cluster.local/ns/NAMESPACE/sa/NAME-service-account (for ISTIO_MUTUAL servers and mTLS to the mesh) and its
xDS stream goes over TLS with a bootstrap token from the state dir. Certificates for SIMPLE and MUTUAL servers come
from \`trellis secret create tls\` in the gateway's namespace. SIGTERM drains it.`;

interface GatewayPort { port: number; hostPort: number; protocol: string }

function parsePort(text: string): { port: number; hostPort?: number; protocol: string } {
  const m = /^(\d+)(?:=(\d+))?(?:\/(HTTP|HTTP2|GRPC|HTTPS|TLS|TCP))?$/i.exec(text);
  const port = Number(m?.[1]);
  const hostPort = m?.[2] !== undefined ? Number(m[2]) : undefined;
  if (!m || port < 1 || port > 65535 || (hostPort !== undefined && hostPort > 65535)) throw new Error(`--port "${text}" must be PORT[=HOSTPORT][/PROTOCOL], ports 1-65535 (HOSTPORT 0 = free), PROTOCOL HTTP, HTTP2, GRPC, HTTPS, TLS or TCP`);
  return { port, hostPort, protocol: (m[3] ?? "HTTP").toUpperCase() };
}

/** The gateway's node: Istio's router node id, its ports as service ports, and where each is bound (PORT_TARGETS). */
function gatewayBootstrap(spec: WorkloadSpec, ports: GatewayPort[], address: string, admin: number, stats: number, ca: { address: string; rootsFile: string } | undefined): { id: string; bootstrap: object } {
  const pod = `${spec.service}-${randomBytes(3).toString("hex")}`;
  const id = `router~${address}~${pod}.${spec.namespace}~${spec.namespace}.svc.cluster.local`;
  const bootstrap = sidecarBootstrap(spec, { app: 0, inbound: ports[0].hostPort, admin, readiness: 0, stats }, id, ca) as { node: { metadata: Record<string, unknown> } };
  const meta = bootstrap.node.metadata;
  delete meta.APP_PORT;
  Object.assign(meta, {
    WORKLOAD_NAME: pod, LABELS: { app: spec.service, ...spec.labels }, INSTANCE_IP: address,
    SERVICE_PORTS: ports.map((p) => ({ port: p.port, name: `${p.protocol.toLowerCase()}-${p.port}`, protocol: p.protocol })),
    PORT_TARGETS: Object.fromEntries(ports.map((p) => [String(p.port), p.hostPort])),
  });
  return { id, bootstrap };
}

export async function run(args: string[]): Promise<number> {
  let spec: WorkloadSpec;
  let ports: GatewayPort[];
  let address: string;
  let stateDir: string;
  let caAddress: string | undefined;
  try {
    const { values } = parseArgs({ args, options: {
      name: { type: "string", default: "istio-ingressgateway" }, namespace: { type: "string", short: "n", default: "istio-system" },
      labels: { type: "string", default: "istio=ingressgateway" }, port: { type: "string", multiple: true }, address: { type: "string", default: "127.0.0.1" },
      xds: { type: "string", default: "127.0.0.1:15010" }, ca: { type: "string" }, "state-dir": { type: "string", default: ".trellis" }, help: { type: "boolean", short: "h" },
    } });
    if (values.help) { console.log(USAGE); return 0; }
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(values.name!)) throw new Error(`--name "${values.name}" must be a DNS label (lowercase letters, digits, -)`);
    if (!isIP(values.address!)) throw new Error(`--address "${values.address}" must be an IP address`);
    address = values.address!;
    const parsed = (values.port ?? ["8080/HTTP", "8443/HTTPS"]).map(parsePort);
    const dup = parsed.find((p, i) => parsed.findIndex((q) => q.port === p.port) !== i);
    if (dup) throw new Error(`--port ${dup.port} is given twice`);
    ports = [];
    for (const p of parsed) ports.push({ port: p.port, protocol: p.protocol, hostPort: p.hostPort === undefined ? p.port : p.hostPort === 0 ? await freePort() : p.hostPort });
    spec = { service: values.name!, namespace: values.namespace!, labels: parseLabels(values.labels), serviceAccount: `${values.name}-service-account`, servicePort: ports[0].port, protocol: ports[0].protocol, upstreams: [], xdsAddress: values.xds! };
    stateDir = values["state-dir"]!;
    caAddress = values.ca;
  } catch (err) {
    console.error(`trellis gateway: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [admin, readiness, stats] = [await freePort(), await freePort(), await freePort()];
  const { id, bootstrap } = gatewayBootstrap(spec, ports, address, admin, stats, caAddress ? { address: caAddress, rootsFile: rootsFile(stateDir) } : undefined);
  const dir = join(stateDir, "gateways");
  mkdirSync(dir, { recursive: true });
  // Where caArgsFor keeps the bootstrap token it refreshes.
  mkdirSync(join(stateDir, "workloads"), { recursive: true });
  const file = join(dir, `${spec.service}.${spec.namespace}.json`);
  writeFileSync(file, JSON.stringify(bootstrap, null, 2));
  let ca: ReturnType<typeof caArgsFor>;
  try {
    ca = caArgsFor(spec, stateDir, id, caAddress);
  } catch (err) {
    console.error(`trellis gateway: ${(err as Error).message}`);
    return 1;
  }
  const child = spawn(process.execPath, [...PROXY_NODE_FLAGS, process.argv[1], "proxy", "--bootstrap", file, "--readiness-port", String(readiness), "--stats-port", String(stats), ...ca.args], { stdio: "inherit" });
  console.error(`trellis gateway: ${spec.service}.${spec.namespace} (${id}), labels ${Object.entries({ app: spec.service, ...spec.labels }).map(([k, v]) => `${k}=${v}`).join(",")}: ` +
    `${ports.map((p) => `port ${p.port}/${p.protocol} on ${address.includes(":") ? `[${address}]` : address}:${p.hostPort}`).join(", ")}; admin on 127.0.0.1:${admin}, readiness on 127.0.0.1:${readiness}`);
  return waitFor(child, ca.stop);
}

/** Forwards SIGTERM/SIGINT to the proxy (which drains) and exits with it. */
function waitFor(child: ChildProcess, cleanup: () => void): Promise<number> {
  const forward = (signal: NodeJS.Signals) => () => { if (child.exitCode === null) child.kill(signal); };
  const onTerm = forward("SIGTERM");
  const onInt = forward("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  return new Promise((resolve) => child.once("exit", (code, signal) => {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    cleanup();
    resolve(code ?? (signal ? 128 : 1));
  }));
}
