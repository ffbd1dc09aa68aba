// Removes what transparent mode made: processes left in Trellis namespaces, the namespaces, their hosts files.
import { sh } from "./exec.js";
import { removeNetns, trellisNamespaces } from "./netns.js";

export interface CleanupReport {
  namespaces: string[];
  killed: number[];
}

export function cleanupNamespaces(prefix?: string): CleanupReport {
  const namespaces = trellisNamespaces(prefix);
  const killed: number[] = [];
  for (const ns of namespaces) {
    const pids = sh("ip", ["netns", "pids", ns], { allowFail: true }).split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {
        // already gone
      }
    }
  }
  // Delete workload namespaces before hubs so no veth is left dangling mid-way.
  for (const ns of [...namespaces].sort((a, b) => Number(a.endsWith("-hub")) - Number(b.endsWith("-hub")))) removeNetns(ns);
  return { namespaces, killed };
}

