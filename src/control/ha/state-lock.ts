// One control plane per state directory: STATE_DIR/control.lock names the pid that holds it. A second replica given
// the same directory would share its CA files and tokens' revocation list with a live one and race on them, so it is
// refused, naming the holder; a lock left by a process that has died is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export class StateDirLockedError extends Error {
  readonly code = "TRELLIS_STATE_DIR_LOCKED";
}

/** A process that still runs: a killed one its parent has not reaped yet (a zombie, state Z) holds nothing. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc: kill(0) said it exists
  }
}

/** Takes the state directory's lock; release() gives it back. Throws StateDirLockedError when a live process holds it. */
export function lockStateDir(stateDir: string): { release(): void } {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, "control.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new StateDirLockedError(`--state-dir ${stateDir} is in use by another control plane (pid ${holder}); give each replica a state directory of its own (they share config and the CA through the store)`);
      }
      rmSync(path, { force: true }); // left by a process that died
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return { release: () => { if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path, { force: true }); } };
  }
  throw new StateDirLockedError(`--state-dir ${stateDir}: could not take ${path} (another process keeps creating it)`);
}
