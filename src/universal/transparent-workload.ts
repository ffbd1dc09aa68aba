// One workload in transparent mode: its own network namespace on the mesh bridge (10.213.0.0/16), istio-iptables'
// rules sending its traffic through the sidecar, service names resolving to VIPs in its hosts file, and port bridges
// over Unix sockets to the host's loopback (the control plane's ports in, the sidecar's admin and metrics out).
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Server } from "node:net";
import { inNetns, sh } from "./exec.js";
import { interceptionRules } from "./iptables-rules.js";
import { addVirtualIps, createWorkloadNetns, ensureHub, netnsExists, NETNS_PREFIX, removeNetns, trellisNamespaces, writeHosts } from "./netns.js";
import { forward } from "./port-bridge.js";

export const MESH_HUB = `${NETNS_PREFIX}hub`;
/** The sidecar runs as this uid and gid (Istio's); iptables spares its traffic by the uid. */
export const PROXY_UID = 1337;
/** The sidecar's ports inside the namespace, Istio's numbers. */
export const SIDECAR_PORTS = { admin: 15000, outbound: 15001, inbound: 15006, stats: 15020, readiness: 15021 };

const BRIDGE_SCRIPT = join(fileURLToPath(import.meta.url), "..", "port-bridge-main.js");

export interface TransparentWorkload {
  netns: string;
  /** The workload's address on the mesh bridge: where peers' sidecars dial it. */
  address: string;
  /** Host loopback ports leading to the sidecar's admin, stats and readiness ports inside. */
  hostPorts: { admin: number; stats: number; readiness: number };
  /** With `publish`: a host loopback port leading to the service port from outside the workload, through its sidecar. */
  publishedPort?: number;
  /** Prefix for a command to run inside; asProxy runs it as the sidecar's uid and gid (it must read a readable copy). */
  wrapper(asProxy: boolean): string[];
  /** Writes the hosts file: every service's names (short ones for the workload's own namespace) to its VIP. */
  setVips(vips: Record<string, string>): void;
  remove(): Promise<void>;
}

type Pair = { from: { port: number } | { path: string }; to: { port: number; host?: string } | { path: string } };

/** Starts the port bridge process inside a namespace; resolves once every pair listens. */
async function startBridge(netns: string, pairs: Pair[]): Promise<ChildProcess> {
  const child = spawn("ip", ["netns", "exec", netns, process.execPath, BRIDGE_SCRIPT, JSON.stringify(pairs)], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the port bridge in ${netns} did not start within 10 s`)), 10_000);
    child.stdout!.once("data", () => { clearTimeout(timer); resolve(); });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`the port bridge in ${netns} exited with ${code}`)); });
  });
  return child;
}

/**
 * The hub namespace with its bridge, which holds 10.213.0.1 so that published ports can reach workloads from
 * outside them; several runs starting at once may race to create it, which is fine.
 */
function ensureMeshHub(): void {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      ensureHub(MESH_HUB, 16);
      inNetns(MESH_HUB, "ip", ["link", "show", "br0"]);
      if (!inNetns(MESH_HUB, "ip", ["-4", "addr", "show", "dev", "br0"]).includes("10.213.0.1/16")) inNetns(MESH_HUB, "ip", ["addr", "add", "10.213.0.1/16", "dev", "br0"], { allowFail: true });
      return;
    } catch {
      // another run is creating it right now
    }
    sh("sleep", ["0.1"]);
  }
  throw new Error(`the mesh bridge namespace ${MESH_HUB} could not be set up; run \`trellis cleanup\` and try again`);
}

/** Claims the next free workload namespace and address: `ip netns add` fails atomically when another run took it. */
function claimNetns(): { name: string; address: string } {
  for (let i = 2; i < 65000; i++) {
    const name = `${NETNS_PREFIX}w${i}`;
    if (netnsExists(name)) continue;
    const address = `10.213.${i >> 8}.${i & 255}`;
    try {
      createWorkloadNetns({ hub: MESH_HUB, prefixLength: 16 }, name, address, {});
      return { name, address };
    } catch (err) {
      if (/exists/i.test((err as Error).message)) continue;
      throw err;
    }
  }
  throw new Error("no free workload address left on the mesh bridge");
}

function hostsFor(vips: Record<string, string>, namespace: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [host, vip] of Object.entries(vips)) {
    const [name, ns] = host.split(".");
    const names = host.endsWith(".svc.cluster.local") ? [host, `${name}.${ns}.svc`, `${name}.${ns}`, ...(ns === namespace ? [name] : [])] : [host];
    out[names.join(" ")] = vip;
  }
  return out;
}

/**
 * Sets up the namespace for one workload. `controlPorts` are the host loopback ports the sidecar must reach (xDS,
 * CA, OTLP); they appear on the same numbers on the namespace's loopback.
 */
export async function createTransparentWorkload(opts: { stateDir: string; namespace: string; controlPorts: number[]; servicePort: number; publish?: boolean }): Promise<TransparentWorkload> {
  ensureMeshHub();
  const { name, address } = claimNetns();
  const servers: Server[] = [];
  const bridges: ChildProcess[] = [];
  const dir = join(opts.stateDir, "netns", name);
  const remove = async () => {
    for (const b of bridges) b.kill("SIGTERM");
    for (const s of servers) s.close();
    removeNetns(name);
    rmSync(dir, { recursive: true, force: true });
    // The last workload out takes the bridge with it, so a normal exit leaves nothing behind.
    if (!trellisNamespaces().some((n) => n !== MESH_HUB)) removeNetns(MESH_HUB);
  };
  try {
    inNetns(name, "ip", ["route", "add", "default", "dev", "eth0"]);
    const plan = { outboundPort: SIDECAR_PORTS.outbound, inboundPort: SIDECAR_PORTS.inbound, proxyUid: PROXY_UID, inboundPorts: "*" as const, excludeInboundPorts: [SIDECAR_PORTS.admin, SIDECAR_PORTS.stats, SIDECAR_PORTS.readiness], outboundCidrs: "*" as const };
    sh("ip", ["netns", "exec", name, "iptables-restore", "--noflush"], { input: interceptionRules(plan) });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    // Control plane ports: namespace loopback -> socket -> host loopback.
    const pairs: Pair[] = [];
    for (const port of opts.controlPorts) {
      const path = join(dir, `control-${port}.sock`);
      servers.push((await forward({ path }, { port })).server);
      pairs.push({ from: { port }, to: { path } });
    }
    // Sidecar ports: host loopback (a free port) -> socket -> namespace loopback.
    const inward = { admin: SIDECAR_PORTS.admin, stats: SIDECAR_PORTS.stats, readiness: SIDECAR_PORTS.readiness };
    for (const port of Object.values(inward)) pairs.push({ from: { path: join(dir, `sidecar-${port}.sock`) }, to: { port } });
    bridges.push(await startBridge(name, pairs));
    // Published: from the hub, which sits outside every workload, so the connection enters through the sidecar's
    // inbound capture as a client's would.
    let publishedPort: number | undefined;
    if (opts.publish) {
      const path = join(dir, "published.sock");
      bridges.push(await startBridge(MESH_HUB, [{ from: { path }, to: { host: address, port: opts.servicePort } }]));
      const f = await forward({ port: 0 }, { path });
      servers.push(f.server);
      publishedPort = f.port;
    }
    const hostPorts = { admin: 0, stats: 0, readiness: 0 };
    for (const [key, port] of Object.entries(inward) as Array<[keyof typeof hostPorts, number]>) {
      const f = await forward({ port: 0 }, { path: join(dir, `sidecar-${port}.sock`) });
      servers.push(f.server);
      hostPorts[key] = f.port!;
    }
    let lastHosts = "";
    const bound = new Set<string>();
    return {
      netns: name, address, hostPorts, publishedPort,
      wrapper: (asProxy) => ["ip", "netns", "exec", name, ...(asProxy ? ["setpriv", `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, "--clear-groups"] : [])],
      setVips: (vips) => {
        const hosts = hostsFor(vips, opts.namespace);
        const text = JSON.stringify(hosts);
        if (text === lastHosts) return;
        lastHosts = text;
        // Bound on the namespace's loopback, so a VIP answers (refused) even before the sidecar is up; iptables
        // sends connections to it to 15001 all the same.
        const fresh = Object.values(vips).filter((v) => !bound.has(v));
        addVirtualIps(name, fresh);
        fresh.forEach((v) => bound.add(v));
        writeHosts(name, hosts);
      },
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}
