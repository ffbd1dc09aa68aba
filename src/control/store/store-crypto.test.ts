// The store key: read only from an owner-only file of 32 bytes, values sealed so that another key, another etcd key
// or an altered byte cannot open them, and the key check telling a replica with another key why it must stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { StoreCrypto } from "./store-crypto.js";
import { parseEtcdUrl } from "./etcd-client.js";

test("store key files, sealing, and the key check", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-store-key-"));
  try {
    const file = (name: string, text: string, mode = 0o600) => { const p = join(dir, name); writeFileSync(p, text, { mode }); return p; };
    assert.throws(() => StoreCrypto.fromFile(join(dir, "missing")), /cannot read .*head -c 32 \/dev\/urandom/);
    assert.throws(() => StoreCrypto.fromFile(file("open", randomBytes(32).toString("base64"), 0o644)), /readable by others \(mode 644\); chmod 600/);
    assert.throws(() => StoreCrypto.fromFile(file("short", randomBytes(16).toString("base64"))), /32 random bytes .* holds 16/);
    const a = StoreCrypto.fromFile(file("a", randomBytes(32).toString("hex")));
    const b = StoreCrypto.fromFile(file("b", randomBytes(32).toString("base64") + "\n"));
    const sealed = a.seal("/trellis/x", Buffer.from("secret spec"));
    assert.ok(!sealed.toString("latin1").includes("secret"));
    assert.equal(a.open("/trellis/x", sealed).toString(), "secret spec");
    assert.throws(() => b.open("/trellis/x", sealed), /does not open with this --store-key/);
    assert.throws(() => a.open("/trellis/y", sealed), /does not open/, "a value moved to another key does not open");
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] ^= 1;
    assert.throws(() => a.open("/trellis/x", altered), /does not open/);
    assert.throws(() => a.open("/trellis/x", Buffer.from("plain")), /not a value Trellis sealed/);
    assert.equal(a.verifyCheck("/k", a.checkValue("/k")), undefined);
    assert.match(b.verifyCheck("/k", a.checkValue("/k"))!, new RegExp(`another --store-key than this replica's \\(key id ${b.id}\\)`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--store etcd://... names what is wrong with it", () => {
  assert.deepEqual(parseEtcdUrl("etcd://10.0.0.1:2379,10.0.0.2:2379"), ["10.0.0.1:2379", "10.0.0.2:2379"]);
  assert.deepEqual(parseEtcdUrl("etcd://etcd.local:2379"), ["etcd.local:2379"]);
  assert.throws(() => parseEtcdUrl("http://10.0.0.1:2379"), /must be etcd:\/\/HOST:PORT/);
  assert.throws(() => parseEtcdUrl("etcd://10.0.0.1"), /"10.0.0.1" must be HOST:PORT/);
  assert.throws(() => parseEtcdUrl("etcd://10.0.0.1:99999"), /must be HOST:PORT/);
  assert.throws(() => parseEtcdUrl("etcd://a.local:2379,b.local:2379"), /several members as IP:PORT/);
});
