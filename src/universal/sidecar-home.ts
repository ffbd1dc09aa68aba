// Where a transparent-mode sidecar running as uid 1337 (as Istio's) finds its files: a private directory owned by that
// uid holding its bootstrap, its bootstrap token (0600, rewritten as it is refreshed) and the mesh roots, and the
// command that runs trellis from a copy that uid can read (readable-copy.ts). Root's state dir stays closed to it.
import { chownSync, copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readableCopy } from "./readable-copy.js";

export const PROXY_UID = 1337;

export interface SidecarHome {
  dir: string;
  /** Writes a file the sidecar owns (mode 0600 unless said). */
  write(name: string, content: string, mode?: number): string;
  /** Copies a file in for the sidecar (0644: roots and other public material). */
  copy(name: string, from: string): string;
  /** The CLI entry point the sidecar's uid can read. */
  cli: string;
  remove(): void;
}

export function sidecarHome(uid = PROXY_UID): SidecarHome {
  const dir = mkdtempSync(join(tmpdir(), "trellis-sidecar-"));
  chownSync(dir, uid, uid);
  const own = (path: string) => {
    chownSync(path, uid, uid);
    return path;
  };
  return {
    dir,
    write: (name, content, mode = 0o600) => {
      // Written under a temporary name and renamed, so the sidecar never reads half a token.
      const path = join(dir, name);
      writeFileSync(`${path}.tmp`, content, { mode });
      own(`${path}.tmp`);
      renameSync(`${path}.tmp`, path);
      return path;
    },
    copy: (name, from) => {
      const path = join(dir, name);
      copyFileSync(from, path);
      return own(path);
    },
    cli: join(readableCopy(), "dist", "src", "cli", "main.js"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
