// `trellis token create` as a user runs it: a verifiable token on stdout, usage errors with exit 2.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { TokenIssuer } from "../../src/control/ca/tokens.js";

const stateDir = mkdtempSync(join(tmpdir(), "trellis-token-"));
after(() => rmSync(stateDir, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", "token", ...args], { encoding: "utf8" });

test("creates a token the CA accepts for that identity", () => {
  const r = cli("create", "-n", "default", "--service-account", "bookinfo-ratings", "--ttl", "30m", "--state-dir", stateDir);
  assert.equal(r.status, 0, r.stderr);
  const v = TokenIssuer.open(join(stateDir, "ca", "token-key"), "cluster.local").verify(r.stdout.trim());
  assert.ok(v.ok);
  assert.equal(v.identity.serviceAccount, "bookinfo-ratings");
});

test("usage errors name the flag and exit 2", () => {
  const missing = cli("create", "-n", "default", "--state-dir", stateDir);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--service-account SA are required/);
  const badTtl = cli("create", "-n", "default", "--service-account", "x", "--ttl", "soon", "--state-dir", stateDir);
  assert.equal(badTtl.status, 2);
  assert.match(badTtl.stderr, /--ttl "soon" is not a duration/);
  assert.equal(cli("frobnicate").status, 2);
});
