// Claims for ports picked now and bound later: several `trellis run` processes start at once (the demo starts seven),
// and a port one of them found free must not be handed to another before it is bound. A claim is a file created
// exclusively under a per-user folder; claims older than HOLD_MS are stale (their process bound the port or died).
import { mkdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HOLD_MS = 120_000;

function folder(): string {
  const dir = join(tmpdir(), `trellis-port-claims-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function create(file: string): boolean {
  try {
    writeFileSync(file, String(process.pid), { flag: "wx", mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** True when this process now holds the claim on `port` (no other live claim existed). */
export function claimPort(port: number): boolean {
  let file: string;
  try {
    file = join(folder(), String(port));
    if (create(file)) return true;
    if (Date.now() - statSync(file).mtimeMs < HOLD_MS) return false;
    unlinkSync(file);
    return create(file);
  } catch {
    // No usable temp folder: fall back to the bind check alone, as before claims existed.
    return true;
  }
}
