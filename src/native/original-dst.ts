// Loads the SO_ORIGINAL_DST addon, when it was built, and reads a socket's original destination with it.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { Socket } from "node:net";

export interface OriginalDestination {
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

interface Addon {
  originalDst(fd: number): OriginalDestination | null;
}

let addon: Addon | undefined;
let loadError: string | undefined;

function load(): Addon | undefined {
  if (addon || loadError) return addon;
  // dist/src/native/original-dst.js -> dist/native/original_dst.node
  const path = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "native", "original_dst.node");
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    loadError = `the SO_ORIGINAL_DST addon (${path}) could not be loaded: ${(err as Error).message}. It is built by \`npm run build\` with a C compiler and Node's headers.`;
  }
  return addon;
}

/** Why original destinations cannot be read here, or undefined when they can. */
export function originalDstUnavailable(): string | undefined {
  load();
  return loadError;
}

/** The destination a redirected connection was addressed to before iptables sent it here, or undefined. */
export function originalDestination(socket: Socket): OriginalDestination | undefined {
  const a = load();
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!a || typeof fd !== "number" || fd < 0) return undefined;
  return a.originalDst(fd) ?? undefined;
}
