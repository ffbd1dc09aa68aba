// The CA: a root made on first start and kept with 0600 keys, plug-in intermediates, identity checks, root rotation.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CertificateAuthority, PLUGIN_FILES } from "../../src/control/ca/authority.js";
import { TokenIssuer } from "../../src/control/ca/tokens.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";
import { writePluginCa } from "../fixtures/plugin-ca.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "trellis-ca-"));
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const bookinfo = { trustDomain: "cluster.local", namespace: "default", serviceAccount: "bookinfo-reviews" };
const reviewsId = "spiffe://cluster.local/ns/default/sa/bookinfo-reviews";

test("first start makes a root under the state directory, key 0600, reused on the next start", async () => {
  const dir = tempDir();
  const ca = await CertificateAuthority.open({ dir });
  assert.equal(statSync(join(dir, PLUGIN_FILES.key)).mode & 0o777, 0o600);
  const again = await CertificateAuthority.open({ dir });
  assert.equal(again.rootsPem(), ca.rootsPem());
  const root = new X509Certificate(ca.rootsPem());
  assert.ok(root.ca);
});

test("signs a CSR for the proven identity: SPIFFE URI SAN, P-256, chained to the root, lifetime as asked", async () => {
  const ca = await CertificateAuthority.open({ dir: tempDir(), defaultTtlMs: 24 * 3600_000 });
  const keys = await generateKeyPair();
  const chain = await ca.sign(await createCsr(keys, [reviewsId]), bookinfo, 10 * 60_000);
  assert.equal(chain.length, 2);
  const leaf = new X509Certificate(chain[0]);
  assert.equal(leaf.subjectAltName, `URI:${reviewsId}`);
  assert.equal(leaf.ca, false);
  assert.ok(leaf.checkIssued(new X509Certificate(chain[1])));
  assert.ok(leaf.verify(new X509Certificate(ca.rootsPem()).publicKey));
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  const lifetime = Date.parse(leaf.validTo) - Date.now();
  assert.ok(lifetime > 8 * 60_000 && lifetime <= 10 * 60_000 + 1000, `lifetime ${lifetime}`);
});

test("refuses a CSR naming another identity, a forged CSR, and a lifetime over the maximum", async () => {
  const ca = await CertificateAuthority.open({ dir: tempDir(), maxTtlMs: 3600_000 });
  const keys = await generateKeyPair();
  await assert.rejects(ca.sign(await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/admin"]), bookinfo), { code: "TRELLIS_CA_IDENTITY_MISMATCH" });
  await assert.rejects(ca.sign("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", bookinfo), { code: "TRELLIS_CA_BAD_CSR" });
  await assert.rejects(ca.sign(await createCsr(keys, [reviewsId]), bookinfo, 2 * 3600_000), { code: "TRELLIS_CA_BAD_TTL" });
  // The near case: the same CSR within limits is signed.
  assert.equal((await ca.sign(await createCsr(keys, [reviewsId]), bookinfo, 3600_000)).length, 2);
});

/** A DER element: tag, length, content (enough for the few extensions these tests hand-make). */
function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const len = body.length < 128 ? [body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}
const ascii = (s: string) => Buffer.from(s, "latin1");
const SAN = "2.5.29.17";

test("refuses a CSR asking for names besides its identity, naming each of them and the fix; nothing is signed", async () => {
  const ca = await CertificateAuthority.open({ dir: tempDir() });
  const keys = await generateKeyPair();
  const refused = async (csr: string, reason: RegExp) => {
    await assert.rejects(ca.sign(csr, bookinfo), (e: Error & { code?: string }) => {
      assert.equal(e.code, "TRELLIS_CA_IDENTITY_MISMATCH");
      assert.match(e.message, reason);
      return true;
    });
  };
  const fix = `a workload certificate carries only ${reviewsId}: request exactly that one URI SAN`;
  // Each kind Istio's agents never ask for, beside the right URI: a DNS name, an IP address, an email address.
  await refused(await createCsr(keys, [reviewsId], [{ type: "dns", value: "reviews.default.svc" }]), new RegExp(`besides its identity \\(DNS:reviews\\.default\\.svc\\); ${fix}`));
  await refused(await createCsr(keys, [reviewsId], [{ type: "ip", value: "10.0.0.7" }]), /besides its identity \(IP Address:10\.0\.0\.7\)/);
  await refused(await createCsr(keys, [reviewsId], [{ type: "email", value: "ops@example.com" }]), /besides its identity \(email:ops@example\.com\)/);
  // A second URI, and the proven one twice.
  await refused(await createCsr(keys, [reviewsId, "spiffe://cluster.local/ns/default/sa/admin"]), /besides its identity \(spiffe:\/\/cluster\.local\/ns\/default\/sa\/admin\)/);
  await refused(await createCsr(keys, [reviewsId, reviewsId]), new RegExp(`besides its identity \\(${reviewsId}\\)`));
  // Names @peculiar/x509 itself skips (an otherName of a type it does not know), and names in a second SAN
  // extension: both would slip past a check built on its parsed view.
  const otherName = der(0x30, der(0xa0, der(0x06, Buffer.from([0x2a, 0x03, 0x04])), der(0xa0, der(0x0c, ascii("admin")))));
  await refused(await createCsr(keys, [reviewsId], [], [{ oid: SAN, value: otherName }]), /besides its identity \(othername:1\.2\.3\.4\)/);
  await refused(await createCsr(keys, [reviewsId], [], [{ oid: SAN, value: der(0x30, der(0x82, ascii("evil.example"))) }]), /besides its identity \(DNS:evil\.example\)/);
  // A name with a line break cannot forge a second line in the control plane's log: it is escaped.
  await assert.rejects(ca.sign(await createCsr(keys, [reviewsId], [], [{ oid: SAN, value: der(0x30, der(0x82, ascii("a\ntrellis control: forged"))) }]), bookinfo),
    (e: Error) => e.message.includes("DNS:a\\x0atrellis control: forged") && !e.message.includes("\n"));
  // Extra names without the proven identity: the mismatch names everything asked for.
  await refused(await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/admin"], [{ type: "dns", value: "x.example" }]),
    /the CSR asks for spiffe:\/\/cluster\.local\/ns\/default\/sa\/admin, DNS:x\.example but the credential proves spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews/);
  await refused(await createCsr(keys, []), /the CSR asks for no SAN but the credential proves/);
  // The near case: exactly the proven URI is signed, and the certificate carries nothing else.
  const leaf = new X509Certificate((await ca.sign(await createCsr(keys, [reviewsId]), bookinfo))[0]);
  assert.equal(leaf.subjectAltName, `URI:${reviewsId}`);
});

test("refuses a CSR asking for CA rights (basicConstraints CA:TRUE, keyUsage keyCertSign); CA:FALSE is signed", async () => {
  const ca = await CertificateAuthority.open({ dir: tempDir() });
  const keys = await generateKeyPair();
  const caTrue = der(0x30, der(0x01, Buffer.from([0xff])));
  await assert.rejects(ca.sign(await createCsr(keys, [reviewsId], [], [{ oid: "2.5.29.19", critical: true, value: caTrue }]), bookinfo),
    { code: "TRELLIS_CA_BAD_CSR", message: /the CSR asks for CA rights \(basicConstraints CA:TRUE\); this CA signs workload certificates only: leave basicConstraints and keyUsage out of the CSR \(or set CA:FALSE\)/ });
  const keyCertSign = der(0x03, Buffer.from([0x02, 0x84]));
  await assert.rejects(ca.sign(await createCsr(keys, [reviewsId], [], [{ oid: "2.5.29.15", critical: true, value: keyCertSign }]), bookinfo),
    { code: "TRELLIS_CA_BAD_CSR", message: /asks for CA rights \(keyUsage keyCertSign\)/ });
  // The near cases: CA:FALSE and a keyUsage of digitalSignature alone ask for nothing more; the leaf is never a CA.
  const chain = await ca.sign(await createCsr(keys, [reviewsId], [], [{ oid: "2.5.29.19", value: der(0x30) }, { oid: "2.5.29.15", value: der(0x03, Buffer.from([0x07, 0x80])) }]), bookinfo);
  assert.equal(new X509Certificate(chain[0]).ca, false);
});

test("Istio's plug-in files: signs as the intermediate, chain leads to the user's root", async () => {
  const dir = tempDir();
  const { rootPem } = await writePluginCa(dir);
  const ca = await CertificateAuthority.open({ dir: tempDir(), pluginDir: dir });
  assert.equal(ca.mode, "plug-in");
  const chain = await ca.sign(await createCsr(await generateKeyPair(), [reviewsId]), bookinfo);
  assert.equal(chain.length, 3);
  const [leaf, inter, root] = chain.map((p) => new X509Certificate(p));
  assert.ok(leaf.checkIssued(inter) && leaf.verify(inter.publicKey));
  assert.ok(inter.verify(root.publicKey));
  assert.equal(root.fingerprint256, new X509Certificate(rootPem).fingerprint256);

  // The wrong key for the cert is refused, naming the file.
  writeFileSync(join(dir, PLUGIN_FILES.key), (await generateKeyPair()).keyPem);
  await assert.rejects(CertificateAuthority.open({ dir: tempDir(), pluginDir: dir }), /ca-key\.pem is not the key of .*ca-cert\.pem/);
  rmSync(join(dir, PLUGIN_FILES.chain));
  await assert.rejects(CertificateAuthority.open({ dir: tempDir(), pluginDir: dir }), /cert-chain\.pem is missing/);
});

test("root rotation: the bundle trusts both roots until finished, new leaves come from the new root", async () => {
  const ca = await CertificateAuthority.open({ dir: tempDir() });
  const oldRoot = new X509Certificate(ca.rootsPem());
  const oldLeaf = new X509Certificate((await ca.sign(await createCsr(await generateKeyPair(), [reviewsId]), bookinfo))[0]);
  await ca.rotateRoot();
  const bundle = ca.rootsPem().match(/-----BEGIN CERTIFICATE-----/g)!;
  assert.equal(bundle.length, 2);
  const newLeaf = new X509Certificate((await ca.sign(await createCsr(await generateKeyPair(), [reviewsId]), bookinfo))[0]);
  assert.ok(oldLeaf.verify(oldRoot.publicKey));
  assert.ok(!newLeaf.verify(oldRoot.publicKey));
  ca.finishRootRotation();
  assert.equal(ca.rootsPem().match(/-----BEGIN CERTIFICATE-----/g)!.length, 1);
  assert.ok(newLeaf.verify(new X509Certificate(ca.rootsPem()).publicKey));
});

test("bootstrap tokens: identity round-trips; tampered, foreign and expired tokens are refused; key file is 0600", () => {
  const dir = tempDir();
  const issuer = TokenIssuer.open(join(dir, "token-key"), "cluster.local");
  assert.equal(statSync(join(dir, "token-key")).mode & 0o777, 0o600);
  const token = issuer.issue("default", "bookinfo-reviews", 3600);
  const v = issuer.verify(token);
  assert.ok(v.ok);
  assert.deepEqual(v.identity, bookinfo);
  const [h, body, sig] = token.split(".");
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, "base64url").toString()), sa: "admin" })).toString("base64url");
  assert.match(JSON.stringify(issuer.verify(`${h}.${forged}.${sig}`)), /signature is not valid/);
  const other = TokenIssuer.open(join(tempDir(), "token-key"), "cluster.local");
  assert.equal(other.verify(token).ok, false);
  assert.match(JSON.stringify(issuer.verify(token, Date.now() + 3601_000)), /expired/);
  assert.throws(() => issuer.issue("Default", "x", 60), /namespace "Default" must be a DNS label/);
  assert.ok(!readFileSync(join(dir, "token-key"), "utf8").includes(token));
});
