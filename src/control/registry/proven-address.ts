// Which addresses in a proxy's metadata the control plane may contact (ADMIN_ADDRESS for config dumps and certificate
// checks, STATS_ADDRESS for scrapes). The control plane dials them itself, so an address taken on the proxy's word
// would let a token holder aim its requests anywhere (SSRF). An address is proven when its host is the one the xDS
// stream came from; a loopback stream proves loopback addresses only.
import { isIP } from "node:net";

function hostOfPeer(peer: string): string {
  const host = peer.startsWith("[") ? peer.slice(1, peer.indexOf("]")) : peer.slice(0, peer.lastIndexOf(":"));
  return host.replace(/^::ffff:(?=\d+\.)/, "");
}

function isLoopback(host: string): boolean {
  return host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

/** "HOST:PORT" split, or undefined when it is not an IP address and a port. */
function parse(address: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  if (!m || !isIP(m[1])) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1], port } : undefined;
}

/** Why `address` (from metadata key `key`) may not be contacted for a stream from `peer`, or undefined when it may. */
export function unprovenAddress(key: string, address: string, peer: string): string | undefined {
  const a = parse(address);
  if (!a) return `${key} "${address}" is not IP:PORT`;
  const from = hostOfPeer(peer);
  if (a.host === from || (isLoopback(a.host) && isLoopback(from))) return undefined;
  return `${key} ${address} is not on the host the stream came from (${from}); the control plane contacts only addresses a proxy connects from`;
}

/** Clears the workload's admin and stats addresses that `peer` does not prove; returns why, one line per address. */
export function dropUnprovenAddresses(w: { adminAddress?: string; statsAddress?: string }, peer: string): string[] {
  const out: string[] = [];
  for (const [key, field] of [["ADMIN_ADDRESS", "adminAddress"], ["STATS_ADDRESS", "statsAddress"]] as const) {
    const value = w[field];
    if (value === undefined) continue;
    const why = unprovenAddress(key, value, peer);
    if (why) {
      out.push(why);
      w[field] = undefined;
    }
  }
  return out;
}
