// `trellis run`: starts one workload with its sidecar: the sidecar first, then the app, signals to both, the app
// stopped first and the sidecar drained after it. Explicit mode by default; --transparent runs both in a network
// namespace of their own with istio-iptables' interception.
import { PROXY_NODE_FLAGS } from "./proxy-node-flags.js";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { supervise } from "../universal/supervisor.js";
import { appMetricsFlag } from "./flags.js";
import { TokenIssuer } from "../control/ca/tokens.js";
import { appEnv, freePort, localityNode, nodeId, parseLabels, parseUpstream, pickPorts, sidecarBootstrap, splitHostPort, type WorkloadSpec } from "../universal/workload-spec.js";
import { type SidecarHome, sidecarHome } from "../universal/sidecar-home.js";
import { createTransparentWorkload, SIDECAR_PORTS, type TransparentWorkload } from "../universal/transparent-workload.js";
import { call, controlAddress } from "./rest-client.js";
import { addressToward, checkAddress } from "../universal/workload-address.js";

const USAGE = `usage: trellis run --service NAME [-n NS] [--labels version=v1,...] [--service-account SA]
                   --port PORT[/PROTOCOL] [--upstream SERVICE:PORT[=LOCALPORT] ...]
                   [--app-metrics [PORT]/PATH] [--transparent [--publish] [--control ADDR]] [--xds HOST:PORT] [--ca HOST:PORT] [--state-dir DIR]
                   [--locality REGION/ZONE/SUBZONE] [--address IP] [--token-file FILE --ca-roots-file FILE] -- CMD [ARGS...]

Runs CMD as a workload of the mesh. The app listens on 127.0.0.1:$PORT (a free port Trellis picks); peers reach it
through its sidecar as SERVICE:PORT. Each --upstream gets a local port on 127.0.0.1 that leads to that service
through the mesh; the app finds it in NAME_HOSTNAME and NAME_SERVICE_PORT (as Istio's Bookinfo reads them).
PROTOCOL is HTTP (default), HTTP2, GRPC or TCP. With --ca (the control plane's --ca-port), the sidecar gets a
SPIFFE certificate for spiffe://cluster.local/ns/NS/sa/SA and sidecars talk mutual TLS (a token from the state dir
proves the identity, to the CA and to xDS, which then goes over TLS to the CA's port). Without --ca, --xds names
the control plane's plaintext xDS port (default 127.0.0.1:15010). Several replicas' addresses, comma-separated
(--xds A:15010,B:15010 or --ca A:15012,B:15012), let the sidecar fail over between them. The sidecar's merged metrics port
(Istio's 15020) serves its metrics and, with --app-metrics, the app's own from that path (on the app's port unless
PORT is given), as Istio's prometheus.io/port and prometheus.io/path annotations say.
With --transparent (Linux, root), the app and its sidecar run in a network namespace of their own on the mesh
bridge (10.213.0.0/16); iptables sends the app's outbound connections to the sidecar's 15001 and inbound ones to
15006 (as istio-iptables does), service names resolve to virtual IPs, and the app listens on PORT itself and calls
peers by name (http://reviews:9080): no --upstream needed. --control names the REST API (default 127.0.0.1:15014),
where the service VIPs come from. --publish makes the service port reachable from the host's loopback through the
sidecar, as an ingress would. \`trellis cleanup\` removes what a crashed run left. --locality places the workload
(its sidecar's xDS node locality) for locality load balancing: DestinationRule localityLbSetting, failover.
Several hosts (explicit mode): the sidecar's inbound listener binds --address, the address peers on other hosts
reach and the one registered (default: this host's address toward the control plane, 127.0.0.1 when it is
local). On a host without the control plane's state dir, --token-file names a bootstrap token (trellis token create
on a control-plane host; the sidecar rereads it, so replace it before it expires) and --ca-roots-file the mesh
root (root-cert.pem) the control plane's TLS is checked against.`;

export async function run(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const own = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1) : [];
  let spec: WorkloadSpec;
  let stateDir: string;
  let caAddress: string | undefined;
  let appMetrics: string | undefined;
  let transparent: boolean;
  let publish: boolean;
  let control: string | undefined;
  let remote: RemoteFlags;
  try {
    const { values } = parseArgs({ args: own, options: {
      service: { type: "string" }, namespace: { type: "string", short: "n", default: "default" }, labels: { type: "string" },
      "service-account": { type: "string" }, port: { type: "string" }, upstream: { type: "string", multiple: true },
      xds: { type: "string", default: "127.0.0.1:15010" }, "state-dir": { type: "string", default: ".trellis" }, ca: { type: "string" },
      transparent: { type: "boolean" }, publish: { type: "boolean" }, control: { type: "string" }, "app-metrics": { type: "string" }, locality: { type: "string" }, address: { type: "string" }, "token-file": { type: "string" }, "ca-roots-file": { type: "string" }, help: { type: "boolean", short: "h" },
    } });
    if (values.help) { console.log(USAGE); return 0; }
    if (values.transparent && process.platform !== "linux") throw new Error("--transparent needs Linux (network namespaces and iptables)");
    if (values.transparent && process.getuid?.() !== 0) throw new Error("--transparent needs root (it creates a network namespace and iptables rules); run as root or without it (explicit mode)");
    transparent = values.transparent === true;
    publish = values.publish === true;
    if (publish && !transparent) throw new Error("--publish is for --transparent (in explicit mode the sidecar's inbound port is already on 127.0.0.1)");
    control = values.control;
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
      ...(values.locality !== undefined ? { locality: values.locality } : {}),
    };
    if (spec.locality !== undefined) localityNode(spec.locality);
    stateDir = values["state-dir"]!;
    caAddress = values.ca;
    for (const [flag, list] of [["--xds", values.xds!], ["--ca", values.ca]] as const) for (const a of list?.split(",") ?? []) splitHostPortFlag(flag, a);
    if (transparent && (values.xds!.includes(",") || values.ca?.includes(","))) throw new Error("--transparent takes one --xds/--ca address (its namespace bridges one control-plane port); several replicas work in explicit mode");
    // Checked now; the app's port is only known once ports are picked.
    appMetricsFlag("--app-metrics", values["app-metrics"], 1);
    appMetrics = values["app-metrics"];
    remote = remoteFlags(values, transparent);
  } catch (err) {
    console.error(`trellis run: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (transparent) return runTransparent({ spec, stateDir, caAddress, appMetrics, command, control, publish });
  let address: string;
  try {
    address = remote.address ?? await addressToward(splitHostPort((caAddress ?? spec.xdsAddress).split(",")[0].trim())[0]);
  } catch (err) {
    console.error(`trellis run: ${(err as Error).message}`);
    return 1;
  }
  const ports = await pickPorts();
  const appMetricsTarget = appMetricsFlag("--app-metrics", appMetrics, ports.app);
  const statsArgs = ["--stats-port", String(ports.stats), ...(appMetricsTarget ? ["--app-metrics", `${appMetricsTarget.port}${appMetricsTarget.path}`] : [])];
  const id = nodeId(spec);
  const dir = join(stateDir, "workloads");
  mkdirSync(dir, { recursive: true });
  const bootstrapFile = join(dir, `${id}.json`);
  let ca: ReturnType<typeof caArgsFor>;
  try {
    ca = remote.tokenFile ? givenToken(remote, caAddress) : caArgsFor(spec, stateDir, id, caAddress);
  } catch (err) {
    console.error(`trellis run: ${(err as Error).message}`);
    return 1;
  }
  const bootstrap = sidecarBootstrap(spec, ports, id, caAddress ? { address: caAddress, rootsFile: remote.rootsFile ?? rootsFile(stateDir) } : undefined) as { node: { metadata: Record<string, unknown> } };
  bootstrap.node.metadata.INSTANCE_IP = address;
  writeFileSync(bootstrapFile, JSON.stringify(bootstrap, null, 2));
  console.error(`trellis run: ${spec.service}.${spec.namespace} (${id}): app on 127.0.0.1:${ports.app}, sidecar inbound on ${address}:${ports.inbound}, admin on 127.0.0.1:${ports.admin}, metrics on 127.0.0.1:${ports.stats}` +
    (spec.upstreams.length ? `; upstreams ${spec.upstreams.map((u) => `${u.service}:${u.port} -> 127.0.0.1:${u.localPort}`).join(", ")}` : ""));
  return supervise({
    sidecar: { command: process.execPath, args: [...PROXY_NODE_FLAGS, process.argv[1], "proxy", "--bootstrap", bootstrapFile, "--readiness-port", String(ports.readiness), ...statsArgs, ...ca.args] },
    app: { command: command[0], args: command.slice(1), env: appEnv(spec, ports) },
    readyUrl: `http://127.0.0.1:${ports.readiness}/healthz/ready`,
    log: (l) => console.error(`trellis run: ${l}`),
    logFile: join(dir, `${id}.log`),
  }).finally(() => ca.stop());
}

const TOKEN_TTL_S = 3600;

type RemoteFlags = { address?: string; tokenFile?: string; rootsFile?: string };

/** --address, --token-file and --ca-roots-file: for a workload on a host other than the control plane's. */
function remoteFlags(values: { address?: string; "token-file"?: string; "ca-roots-file"?: string; ca?: string }, transparent: boolean): RemoteFlags {
  if (transparent && values.address !== undefined) throw new Error("--address is for explicit mode: in transparent mode the workload's namespace has its own address on the host's mesh bridge");
  if ((values["token-file"] !== undefined || values["ca-roots-file"] !== undefined) && values.ca === undefined) throw new Error("--token-file and --ca-roots-file go with --ca (the control plane's CA port they authenticate to)");
  if ((values["token-file"] === undefined) !== (values["ca-roots-file"] === undefined)) throw new Error("--token-file and --ca-roots-file go together: a host without the state dir needs both the token and the mesh root");
  if (transparent && values["token-file"] !== undefined) throw new Error("--token-file is for explicit mode (transparent mode mints its token from the state dir)");
  for (const f of [values["token-file"], values["ca-roots-file"]]) if (f !== undefined && !existsSync(f)) throw new Error(`${f} does not exist`);
  return { address: values.address === undefined ? undefined : checkAddress(values.address), tokenFile: values["token-file"] && resolve(values["token-file"]), rootsFile: values["ca-roots-file"] && resolve(values["ca-roots-file"]) };
}

/** The sidecar's CA flags for a token given to this host (not minted here). */
function givenToken(remote: RemoteFlags, caAddress: string | undefined): { args: string[]; stop(): void } {
  return { args: ["--ca", caAddress!, "--ca-token-file", remote.tokenFile!, "--ca-roots-file", remote.rootsFile!], stop: () => {} };
}

/**
 * The sidecar's CA flags. The bootstrap token proves this workload's identity to the CA and to xDS, and only who can
 * read the state dir can mint one. Like a projected service-account token, it is short-lived and rewritten (0600)
 * well before it expires, for as long as the run lasts; the sidecar reads the file each time it needs it.
 */
export function caArgsFor(spec: WorkloadSpec, stateDir: string, id: string, caAddress: string | undefined, home?: SidecarHome): { args: string[]; stop(): void } {
  if (!caAddress) return { args: [], stop: () => {} };
  // A sidecar running as uid 1337 gets its token (and the roots) in its own home, since it cannot read the state dir.
  if (home) return caArgsIn(home, spec, stateDir, caAddress);
  const tokenFile = join(stateDir, "workloads", `${id}.token`);
  const write = () => {
    const token = issueToken(spec, stateDir);
    writeFileSync(`${tokenFile}.tmp`, token + "\n", { mode: 0o600 });
    renameSync(`${tokenFile}.tmp`, tokenFile);
  };
  write();
  const timer = setInterval(() => {
    try { write(); } catch (err) { console.error(`trellis run: ${(err as Error).message}; the sidecar keeps the current token until it expires`); }
  }, (TOKEN_TTL_S / 3) * 1000);
  timer.unref();
  return {
    args: ["--ca", caAddress, "--ca-token-file", tokenFile, "--ca-roots-file", rootsFile(stateDir)],
    stop: () => { clearInterval(timer); rmSync(tokenFile, { force: true }); },
  };
}

function issueToken(spec: WorkloadSpec, stateDir: string): string {
  try {
    return TokenIssuer.open(join(stateDir, "ca", "token-key"), "cluster.local").issue(spec.namespace, spec.serviceAccount, TOKEN_TTL_S, Date.now(), { service: spec.service, labels: spec.labels });
  } catch (err) {
    throw new Error(`cannot issue a bootstrap token: ${(err as Error).message}`, { cause: err });
  }
}

/** caArgsFor for a sidecar with its own home: the token is written there, owned by its uid, and refreshed. */
function caArgsIn(home: SidecarHome, spec: WorkloadSpec, stateDir: string, caAddress: string): { args: string[]; stop(): void } {
  const tokenFile = home.write("istio-token", issueToken(spec, stateDir) + "\n");
  const roots = home.copy("root-cert.pem", rootsFile(stateDir));
  const timer = setInterval(() => {
    try { home.write("istio-token", issueToken(spec, stateDir) + "\n"); } catch (err) { console.error(`trellis run: ${(err as Error).message}; the sidecar keeps the current token until it expires`); }
  }, (TOKEN_TTL_S / 3) * 1000);
  timer.unref();
  return { args: ["--ca", caAddress, "--ca-token-file", tokenFile, "--ca-roots-file", roots], stop: () => clearInterval(timer) };
}

function splitHostPortFlag(flag: string, addr: string): void {
  try {
    splitHostPort(addr.trim());
  } catch {
    throw new Error(`${flag}: "${addr}" must be HOST:PORT (several replicas: HOST:PORT,HOST:PORT)`);
  }
}

export function rootsFile(stateDir: string): string {
  return resolve(join(stateDir, "ca", "root-cert.pem"));
}

async function transparentInfo(control: string | undefined): Promise<{ vips: Record<string, string>; collector: { address: string; port: number } | null }> {
  const res = await call(controlAddress(control), "GET", "/debug/transparent");
  if (res.status !== 200) throw new Error(`the control plane answered ${res.status} on /debug/transparent: ${String(res.body.message ?? "")}`);
  return res.body as unknown as { vips: Record<string, string>; collector: { address: string; port: number } | null };
}

async function runTransparent(o: { spec: WorkloadSpec; stateDir: string; caAddress?: string; appMetrics?: string; command: string[]; control?: string; publish?: boolean }): Promise<number> {
  const { spec, stateDir } = o;
  const id = nodeId(spec);
  mkdirSync(join(stateDir, "workloads"), { recursive: true });
  let info;
  let workload: TransparentWorkload;
  let ca: ReturnType<typeof caArgsFor> | undefined;
  // The sidecar runs as uid 1337: its files live in its own home, trellis in a copy it can read.
  let home: SidecarHome | undefined;
  // The control plane's loopback ports the sidecar needs appear on the same numbers inside the namespace: xDS (over
  // TLS on the CA's port when there is a CA) and the trace collector.
  const xdsPort = splitHostPort(o.caAddress ?? spec.xdsAddress)[1];
  try {
    info = await transparentInfo(o.control);
    const controlPorts = [xdsPort];
    if (info.collector && /^127\./.test(info.collector.address)) controlPorts.push(info.collector.port);
    home = sidecarHome();
    ca = caArgsFor(spec, stateDir, id, o.caAddress ? `127.0.0.1:${xdsPort}` : undefined, home);
    workload = await createTransparentWorkload({ stateDir, namespace: spec.namespace, controlPorts, servicePort: spec.servicePort, publish: o.publish });
  } catch (err) {
    ca?.stop();
    home?.remove();
    console.error(`trellis run: ${(err as Error).message}`);
    return 1;
  }
  workload.setVips(info.vips);
  // New services get names as they register; a failed poll keeps the names already written.
  const poll = setInterval(() => { transparentInfo(o.control).then((i) => workload.setVips(i.vips), () => {}); }, 2000);
  try {
    const inner = { app: spec.servicePort, inbound: spec.servicePort, admin: SIDECAR_PORTS.admin, readiness: SIDECAR_PORTS.readiness, stats: SIDECAR_PORTS.stats };
    const xds = `127.0.0.1:${xdsPort}`;
    const bootstrap = sidecarBootstrap({ ...spec, upstreams: [], xdsAddress: xds }, inner, id, o.caAddress ? { address: xds, rootsFile: join(home!.dir, "root-cert.pem") } : undefined) as { node: { metadata: Record<string, unknown> } };
    Object.assign(bootstrap.node.metadata, {
      INSTANCE_IP: workload.address, INTERCEPTION_MODE: "REDIRECT",
      ADMIN_ADDRESS: `127.0.0.1:${workload.hostPorts.admin}`, STATS_ADDRESS: `127.0.0.1:${workload.hostPorts.stats}`,
    });
    const bootstrapFile = home!.write(`${id}.json`, JSON.stringify(bootstrap, null, 2));
    const metrics = appMetricsFlag("--app-metrics", o.appMetrics, spec.servicePort);
    console.error(`trellis run: ${spec.service}.${spec.namespace} (${id}), transparent: namespace ${workload.netns} at ${workload.address}, app on :${spec.servicePort}, ` +
      `admin on 127.0.0.1:${workload.hostPorts.admin}, metrics on 127.0.0.1:${workload.hostPorts.stats}` +
      (workload.publishedPort ? `, published on 127.0.0.1:${workload.publishedPort}` : ""));
    return await supervise({
      sidecar: {
        command: process.execPath, wrapper: workload.wrapper(true),
        args: [...PROXY_NODE_FLAGS, home!.cli, "proxy", "--bootstrap", bootstrapFile, "--readiness-port", String(SIDECAR_PORTS.readiness), "--stats-port", String(SIDECAR_PORTS.stats),
          ...(metrics ? ["--app-metrics", `${metrics.port}${metrics.path}`] : []), ...ca.args],
      },
      app: { command: o.command[0], args: o.command.slice(1), wrapper: workload.wrapper(false), env: { PORT: String(spec.servicePort), HOST: "0.0.0.0", TRELLIS_APP_PORT: String(spec.servicePort) } },
      readyUrl: `http://127.0.0.1:${workload.hostPorts.readiness}/healthz/ready`,
      log: (l) => console.error(`trellis run: ${l}`),
      logFile: join(stateDir, "workloads", `${id}.log`),
    });
  } finally {
    clearInterval(poll);
    ca.stop();
    home!.remove();
    await workload.remove();
  }
}
