// Network namespaces for transparent mode: a hub namespace holding a bridge, one namespace per workload joined to it.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inNetns, sh } from "./exec.js";

/** Every namespace Trellis makes starts with this, so `trellis cleanup` can find what a crashed run left. */
export const NETNS_PREFIX = "trellis-";
const BRIDGE = "br0";

export interface MeshNetwork {
  /** The hub namespace that holds the bridge. */
  hub: string;
  /** Prefix length of the workload subnet, e.g. 24 for 10.213.0.0/24. */
  prefixLength: number;
}

export function netnsExists(name: string): boolean {
  return existsSync(join("/run/netns", name));
}

/** Creates the hub namespace and its bridge (idempotent). The hub has no route anywhere: traffic stays inside. */
export function ensureHub(hub: string, prefixLength: number): MeshNetwork {
  if (!netnsExists(hub)) {
    sh("ip", ["netns", "add", hub]);
    inNetns(hub, "ip", ["link", "set", "lo", "up"]);
    inNetns(hub, "ip", ["link", "add", BRIDGE, "type", "bridge"]);
    inNetns(hub, "ip", ["link", "set", BRIDGE, "up"]);
  }
  return { hub, prefixLength };
}

export interface WorkloadNetns {
  name: string;
  address: string;
}

/**
 * Creates a workload's namespace, joined to the hub's bridge by a veth pair: `eth0` inside with `address`, and a
 * hub-side end named after the address so names stay unique and under the kernel's 15 characters.
 * `hosts` become the namespace's /etc/hosts (ip netns exec bind-mounts /etc/netns/NAME/hosts).
 */
export function createWorkloadNetns(net: MeshNetwork, name: string, address: string, hosts: Record<string, string>): WorkloadNetns {
  if (!name.startsWith(NETNS_PREFIX)) throw new Error(`workload namespace "${name}" must start with "${NETNS_PREFIX}"`);
  if (netnsExists(name)) throw new Error(`network namespace ${name} already exists; run \`trellis cleanup\` if a previous run crashed`);
  const hubSide = `tv${address.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join("")}`;
  sh("ip", ["netns", "add", name]);
  try {
    sh("ip", ["link", "add", hubSide, "netns", net.hub, "type", "veth", "peer", "name", "eth0", "netns", name]);
    inNetns(net.hub, "ip", ["link", "set", hubSide, "master", BRIDGE]);
    inNetns(net.hub, "ip", ["link", "set", hubSide, "up"]);
    inNetns(name, "ip", ["link", "set", "lo", "up"]);
    inNetns(name, "ip", ["addr", "add", `${address}/${net.prefixLength}`, "dev", "eth0"]);
    inNetns(name, "ip", ["link", "set", "eth0", "up"]);
    writeHosts(name, hosts);
  } catch (err) {
    removeNetns(name);
    throw err;
  }
  return { name, address };
}

/** Binds virtual IPs on the namespace's loopback, so connections to them exist only inside it. */
export function addVirtualIps(netns: string, vips: string[]): void {
  for (const vip of vips) inNetns(netns, "ip", ["addr", "add", `${vip}/32`, "dev", "lo"]);
}

export function writeHosts(netns: string, hosts: Record<string, string>): void {
  const dir = join("/etc/netns", netns);
  mkdirSync(dir, { recursive: true });
  const lines = ["127.0.0.1 localhost", "::1 localhost", ...Object.entries(hosts).map(([host, ip]) => `${ip} ${host}`)];
  writeFileSync(join(dir, "hosts"), lines.join("\n") + "\n");
}

/** Deletes a namespace (its veth goes with it) and its /etc/netns folder. */
export function removeNetns(name: string): void {
  sh("ip", ["netns", "delete", name], { allowFail: true });
  rmSync(join("/etc/netns", name), { recursive: true, force: true });
}

/** Every namespace a Trellis run made, whether or not that run is still alive. */
export function trellisNamespaces(prefix = NETNS_PREFIX): string[] {
  const found = new Set<string>();
  if (existsSync("/run/netns")) for (const n of readdirSync("/run/netns")) if (n.startsWith(prefix)) found.add(n);
  if (existsSync("/etc/netns")) for (const n of readdirSync("/etc/netns")) if (n.startsWith(prefix)) found.add(n);
  return [...found].sort();
}
