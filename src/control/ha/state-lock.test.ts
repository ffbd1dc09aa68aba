// The state directory's lock: one live control plane per directory, named when refused; a dead holder's lock is taken.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockStateDir } from "./state-lock.js";

test("one control plane per state dir; a lock left by a dead process is taken over", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-state-lock-"));
  try {
    const lock = lockStateDir(join(dir, "s"));
    assert.throws(() => lockStateDir(join(dir, "s")), (err: Error & { code?: string }) => err.code === "TRELLIS_STATE_DIR_LOCKED" && new RegExp(`pid ${process.pid}`).test(err.message));
    lock.release();
    assert.ok(!existsSync(join(dir, "s", "control.lock")));
    // A pid that has exited: the process ran and is gone.
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim();
    writeFileSync(join(dir, "s", "control.lock"), `${dead}\n`);
    const again = lockStateDir(join(dir, "s"));
    assert.equal(readFileSync(join(dir, "s", "control.lock"), "utf8").trim(), String(process.pid));
    again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
