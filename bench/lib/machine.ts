// What the benchmark ran on, recorded beside every result.
import { spawnSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";

function version(cmd: string, args: string[], pattern: RegExp): string | undefined {
  // nginx prints its version on stderr, haproxy on stdout.
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.error ? undefined : pattern.exec(`${r.stdout}${r.stderr}`)?.[1];
}

export function machine() {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    peers: {
      haproxy: version("haproxy", ["-v"], /version (\S+)/),
      nginx: version("nginx", ["-v"], /nginx\/(\S+)/),
    },
  };
}
