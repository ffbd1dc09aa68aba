// `trellis control --store/--store-key` refuses what it cannot honour, naming the flag and the fix, before it binds
// or contacts anything; and a state dir held by a live control plane is refused with the holder's pid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { lockStateDir } from "../../src/control/ha/state-lock.js";

const CLI = "dist/src/cli/main.js";

test("bad --store/--store-key input and a state dir in use are refused by name", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-store-flags-"));
  try {
    const control = (...args: string[]) => spawnSync(process.execPath, [CLI, "control", "--state-dir", join(dir, "s"), "--xds-port", "0", "--api-port", "0", "--otlp-port", "0", "--console-port", "0", ...args], { encoding: "utf8", timeout: 60_000 });
    const open = join(dir, "open.key");
    writeFileSync(open, randomBytes(32).toString("base64"), { mode: 0o644 });
    const cases: Array<[string[], RegExp]> = [
      [["--store", "etcd://127.0.0.1:1"], /--store etcd:\/\/\.\.\. needs --store-key FILE/],
      [["--store-key", open], /--store-key seals the etcd store's values; it needs --store/],
      [["--store", "http://127.0.0.1:2379", "--store-key", open], /--store "http:\/\/127\.0\.0\.1:2379" must be etcd:\/\/HOST:PORT/],
      [["--store", "etcd://127.0.0.1:1", "--store-key", open], /readable by others \(mode 644\); chmod 600/],
    ];
    for (const [args, message] of cases) {
      const r = control(...args);
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const lock = lockStateDir(join(dir, "s"));
    try {
      const r = control();
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`in use by another control plane \\(pid ${process.pid}\\)`));
    } finally {
      lock.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
