// The etcd store against a real etcd 3.6 on loopback: two stores (two replicas' views) see each other's writes
// through the watch, versions guard writes, nothing is stored in plaintext; the CA's material, token revocations and
// gateway secrets are shared; and the bad starts are refused as they should be: another store key (store untouched),
// a state dir in use, an etcd not up yet (retried).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { EtcdClient } from "../../src/control/store/etcd-client.js";
import { EtcdStore } from "../../src/control/store/etcd-store.js";
import { StoreCrypto } from "../../src/control/store/store-crypto.js";
import { ConflictError } from "../../src/control/store/store.js";
import { EtcdReplica } from "../../src/control/ha/etcd-replica.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { SecretStore } from "../../src/control/secrets/secret-store.js";
import { SharedSecrets } from "../../src/control/ha/shared-secrets.js";
import { ReplicaLease } from "../../src/control/ha/replica-lease.js";
import { Singleton } from "../../src/control/ha/singleton.js";
import { createTestCa, issueCert } from "../fixtures/gateway-certs.js";
import { freePort } from "../../src/universal/workload-spec.js";
import type { IstioResource } from "../../src/api/resource.js";
import { EtcdCluster, etcdBinary } from "../fixtures/hosts/etcd-cluster.js";
import { until } from "../fixtures/until.js";

const bin = await etcdBinary();
const skip = bin.ok ? false : bin.reason;

function keyFile(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
  return path;
}

const vs = (host: string): IstioResource => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "reviews", namespace: "default" }, spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] } }) as IstioResource;

describe("etcd store", { skip }, () => {
  let dir: string;
  let cluster: EtcdCluster;
  let url: string;
  const clients: EtcdClient[] = [];
  const replicas: EtcdReplica[] = [];
  const quiet = () => {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-etcd-store-"));
    cluster = new EtcdCluster((bin as { path: string }).path, dir, { loopback: [{ client: await freePort(), peer: await freePort() }] });
    await cluster.start();
    url = cluster.url;
  });

  after(async () => {
    for (const r of replicas) await r.stop();
    for (const c of clients) c.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = () => { const c = new EtcdClient([url.slice("etcd://".length)]); clients.push(c); return c; };

  it("shares writes between stores through the watch, guards versions, and seals every value", async () => {
    const crypto = StoreCrypto.fromFile(keyFile(dir, "k1"));
    const a = await EtcdStore.open(client(), crypto, quiet);
    const b = await EtcdStore.open(client(), crypto, quiet);
    const seen: string[] = [];
    b.on("event", (e: { type: string }) => seen.push(e.type));
    const stored = await a.put(vs("reviews.default.svc.cluster.local"), { mustNotExist: true });
    await until("store b sees the write made through store a", async () => b.get("VirtualService", "default", "reviews")?.metadata.resourceVersion === stored.metadata.resourceVersion, 10_000);
    assert.deepEqual(seen, ["ADDED"]);
    await assert.rejects(a.put(vs("x"), { mustNotExist: true }), ConflictError);
    const second = await b.put({ ...vs("ratings.default.svc.cluster.local"), metadata: { ...stored.metadata } }, { expectVersion: stored.metadata.resourceVersion });
    assert.equal(second.metadata.generation, 2);
    assert.equal(second.metadata.uid, stored.metadata.uid, "uid kept across writers");
    await assert.rejects(a.put(vs("y"), { expectVersion: stored.metadata.resourceVersion }), ConflictError, "a stale resourceVersion is refused");
    const raw = await client().range("/trellis/");
    assert.ok(raw.kvs.some((kv) => kv.key.startsWith("/trellis/resources/")), "the resource is in etcd");
    for (const kv of raw.kvs) assert.ok(!kv.value.toString("latin1").includes("cluster.local"), `${kv.key} holds plaintext`);
    await a.delete("VirtualService", "default", "reviews");
    await until("store b sees the delete", async () => b.get("VirtualService", "default", "reviews") === undefined, 10_000);
    a.close();
    b.close();
  });

  it("shares the CA's material between replicas, refuses another store key (writing nothing) and a state dir in use", async () => {
    const key = keyFile(dir, "shared");
    const [s1, s2] = [join(dir, "r1"), join(dir, "r2")];
    const r1 = await EtcdReplica.open({ storeUrl: url, keyFile: key, stateDir: s1, ca: { plugin: false }, log: quiet });
    replicas.push(r1);
    const r2 = await EtcdReplica.open({ storeUrl: url, keyFile: key, stateDir: s2, ca: { plugin: false }, log: quiet });
    replicas.push(r2);
    for (const f of ["root-cert.pem", "ca-key.pem", "token-key"]) assert.equal(readFileSync(join(s2, "ca", f), "utf8"), readFileSync(join(s1, "ca", f), "utf8"), `${f} shared`);
    // A token revoked through one replica's state dir (trellis token revoke) is refused by the other too.
    const issuer = TokenIssuer.open(join(s1, "ca", "token-key"), "cluster.local");
    const token = issuer.issue("default", "echo", 600, Date.now(), { service: "echo", labels: {} });
    const other = TokenIssuer.open(join(s2, "ca", "token-key"), "cluster.local");
    assert.equal(other.verify(token).ok, true);
    const jti = (JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()) as { jti: string }).jti;
    issuer.revocations.add(jti, Date.now() + 600_000);
    await until("the revocation reaches the other replica", async () => !other.verify(token).ok, 15_000);

    const before = await client().range("/trellis/");
    await assert.rejects(EtcdReplica.open({ storeUrl: url, keyFile: keyFile(dir, "other"), stateDir: join(dir, "r3"), ca: { plugin: false }, log: quiet }),
      (err: Error & { code?: string }) => err.code === "TRELLIS_STORE_KEY" && /another --store-key/.test(err.message) && /nothing was written/.test(err.message));
    const afterRefusal = await client().range("/trellis/");
    assert.equal(afterRefusal.revision, before.revision, "the refused replica wrote nothing");

    await assert.rejects(EtcdReplica.open({ storeUrl: url, keyFile: key, stateDir: s1, log: quiet }),
      (err: Error & { code?: string }) => err.code === "TRELLIS_STATE_DIR_LOCKED" && /in use by another control plane \(pid \d+\)/.test(err.message));
  });

  it("shares gateway secrets between replicas' secret stores, sealed, deletes included", async () => {
    const crypto = StoreCrypto.fromFile(keyFile(dir, "secrets-key"));
    const [a, b] = [new SecretStore(join(dir, "sa"), () => {}), new SecretStore(join(dir, "sb"), () => {})];
    const [sa, sb] = [new SharedSecrets(client(), crypto, a, quiet), new SharedSecrets(client(), crypto, b, quiet)];
    await sa.start();
    await sb.start();
    try {
      const cert = await issueCert(await createTestCa(), ["bookinfo.example.com"]);
      a.put({ namespace: "istio-system", name: "bookinfo-cert", ...cert });
      await sa.publish();
      await until("replica b's store holds the secret written at a", async () => b.get("istio-system", "bookinfo-cert")?.keyPem === cert.keyPem, 10_000);
      const raw = await client().range("/trellis/secrets/");
      assert.equal(raw.kvs.length, 1);
      assert.ok(!raw.kvs[0].value.toString("latin1").includes("PRIVATE KEY"), "the private key is sealed");
      b.delete("istio-system", "bookinfo-cert");
      await sb.publish();
      await until("the delete reaches a", async () => a.get("istio-system", "bookinfo-cert") === undefined, 10_000);
    } finally {
      sa.stop();
      sb.stop();
    }
  });

  it("does the singleton work on one replica only, and on another once that one's lease is gone", async () => {
    const leases = [new ReplicaLease(client(), quiet), new ReplicaLease(client(), quiet)];
    for (const l of leases) await l.start();
    const doing = [0, 0];
    const singletons = leases.map((l, i) => new Singleton(client(), l, `r${i}`, { start: () => { doing[i]++; }, stop: () => { doing[i]--; } }, quiet));
    try {
      for (const s of singletons) s.start();
      await until("one replica leads", async () => doing[0] + doing[1] === 1, 15_000);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(doing[0] + doing[1], 1, "never both");
      const leader = doing[0] === 1 ? 0 : 1;
      singletons[leader].stop();
      await leases[leader].stop(); // its key goes with its lease
      await until("the other replica takes the work over", async () => doing[1 - leader] === 1, 15_000);
    } finally {
      for (const s of singletons) s.stop();
      for (const l of leases) await l.stop();
    }
  });

  it("reaches etcd over TLS with a client certificate, and says why when the certificate is missing", async (t) => {
    const ca = await createTestCa("etcd test CA");
    const server = await issueCert(ca, ["localhost"]);
    const clientCert = await issueCert(ca, ["trellis-control"]);
    const files = Object.fromEntries(Object.entries({ ca: ca.certPem, cert: server.certPem, key: server.keyPem }).map(([k, v]) => { const p = join(dir, `tls-${k}.pem`); writeFileSync(p, v, { mode: 0o600 }); return [k, p]; }));
    const secure = new EtcdCluster((bin as { path: string }).path, join(dir, "tls"), { loopback: [{ client: await freePort(), peer: await freePort() }], tls: { cert: files.cert, key: files.key, ca: files.ca } });
    mkdirSync(join(dir, "tls"), { recursive: true });
    await secure.start();
    try {
      const key = keyFile(dir, "tls-store-key");
      const tls = { ca: Buffer.from(ca.certPem), cert: Buffer.from(clientCert.certPem), key: Buffer.from(clientCert.keyPem) };
      const r = await EtcdReplica.open({ storeUrl: secure.url, keyFile: key, tls, stateDir: join(dir, "r-tls"), log: quiet });
      await r.store.put(vs("reviews.default.svc.cluster.local"));
      await r.stop();
      const refused = await EtcdReplica.open({ storeUrl: secure.url, keyFile: key, tls: { ca: tls.ca }, stateDir: join(dir, "r-tls2"), log: quiet, startLimitMs: 3000 }).then(() => undefined, (err: Error & { code?: string }) => err);
      t.diagnostic(`without a client certificate: ${refused?.message}`);
      assert.equal(refused?.code, "TRELLIS_STORE_UNAVAILABLE");
      assert.match(refused!.message, /cannot reach the etcd store at localhost:\d+.*certificate required.*check --etcd-cacert, --etcd-cert and --etcd-key/);
    } finally {
      await secure.stop();
    }
  });

  it("retries an etcd that is not up yet, saying so, and starts once it answers", async () => {
    const ports = { client: await freePort(), peer: await freePort() };
    const late = new EtcdCluster((bin as { path: string }).path, join(dir, "late"), { loopback: [ports] });
    rmSync(join(dir, "late"), { recursive: true, force: true });
    const lines: string[] = [];
    const opening = EtcdReplica.open({ storeUrl: `etcd://127.0.0.1:${ports.client}`, keyFile: keyFile(dir, "late-key"), stateDir: join(dir, "r-late"), log: (l) => lines.push(l), startLimitMs: 120_000 });
    await until("the replica says etcd cannot be reached", async () => lines.some((l) => /cannot reach the etcd store at 127\.0\.0\.1:\d+ .*retrying/.test(l)), 60_000);
    mkdirSync(join(dir, "late"), { recursive: true });
    await late.start();
    try {
      replicas.push(await opening);
    } finally {
      await replicas.at(-1)?.stop();
      replicas.pop();
      await late.stop();
    }
  });
});
