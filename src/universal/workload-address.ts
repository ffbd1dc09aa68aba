// The address a workload registers for other hosts to reach it (`trellis run --address`): given, or by default the
// address of this host's interface that routes to the control plane (a connected UDP socket sends nothing, it only
// asks the kernel for the route), so peers on other hosts dial what actually reaches this one.
import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";

/** Checks an --address: an IP address of one of this host's interfaces. */
export function checkAddress(address: string): string {
  if (!isIP(address)) throw new Error(`--address "${address}" must be an IP address of this host (the one peers on other hosts reach)`);
  const own = Object.values(networkInterfaces()).flat().map((i) => i?.address);
  if (!own.includes(address)) throw new Error(`--address ${address} is not an address of this host's interfaces (${own.filter(Boolean).join(", ")}); the sidecar binds it for peers to connect`);
  return address;
}

/** The local address the kernel would use toward `host` (127.0.0.1 for a loopback control plane). */
export async function addressToward(host: string): Promise<string> {
  const family = isIP(host) === 6 ? "udp6" : "udp4";
  const socket = createSocket(family);
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.once("error", (e) => reject(new Error(`no route from this host to the control plane at ${host} (${e.message}); give --address`)));
      socket.connect(9, host, () => resolve(socket.address().address));
    });
  } finally {
    socket.close();
  }
}
