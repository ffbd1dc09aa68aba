// Runs the system commands transparent mode needs (ip, iptables), with errors that say which command failed and why.
import { spawnSync } from "node:child_process";

export class CommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly status: number | null) {
    super(`\`${command}\` failed${status === null ? "" : ` (exit ${status})`}: ${stderr.trim() || "no output"}`);
  }
}

export function sh(cmd: string, args: string[], options: { allowFail?: boolean; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input: options.input });
  if (r.error) {
    if (options.allowFail) return "";
    const missing = (r.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new CommandError([cmd, ...args].join(" "), missing ? `${cmd} is not installed (run scripts/install-system-deps.sh as root)` : r.error.message, null);
  }
  if (r.status !== 0 && !options.allowFail) throw new CommandError([cmd, ...args].join(" "), r.stderr, r.status);
  return r.stdout;
}

/** Runs a command inside a network namespace. */
export function inNetns(netns: string, cmd: string, args: string[], options: { allowFail?: boolean } = {}): string {
  return sh("ip", ["netns", "exec", netns, cmd, ...args], options);
}
