// The control plane's gateway secrets: stored 0600 under 0700 directories, refused by field when the key does not
// belong to the certificate or the PEM does not parse, reloaded from disk, reported unusable outside their validity,
// and never shown with their key through the REST API.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SecretStore } from "../../src/control/secrets/secret-store.js";
import { secretApi } from "../../src/control/secrets/secret-api.js";
import { createTestCa, issueCert } from "../fixtures/gateway-certs.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-secrets-"));
let cert: { certPem: string; keyPem: string };
let other: { certPem: string; keyPem: string };
let caPem = "";
let server: Server | undefined;

before(async () => {
  const ca = await createTestCa();
  caPem = ca.certPem;
  cert = await issueCert(ca, ["a.example.com"]);
  other = await issueCert(ca, ["b.example.com"]);
});
after(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a secret is written 0600 in a 0700 directory and read back by a new store", () => {
  let changes = 0;
  const store = new SecretStore(join(dir, "a"), () => changes++);
  const summary = store.put({ namespace: "istio-system", name: "cred", ...cert, caPem });
  assert.deepEqual(summary.dnsNames, ["a.example.com"]);
  assert.equal(summary.hasCaCertificate, true);
  assert.equal(changes, 1);
  assert.equal(statSync(join(dir, "a", "istio-system", "cred.json")).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, "a", "istio-system")).mode & 0o777, 0o700);
  const again = new SecretStore(join(dir, "a"), () => {});
  assert.equal(again.lookup("istio-system", "cred").material?.keyPem, cert.keyPem);
  assert.match(again.lookup("default", "cred").error!, /no secret default\/cred \(create it: trellis secret create tls cred -n default/);
});

test("a key of another certificate, PEM that does not parse, and bad names are refused by field", () => {
  const store = new SecretStore(join(dir, "b"), () => {});
  assert.throws(() => store.put({ namespace: "ns", name: "x", certPem: cert.certPem, keyPem: other.keyPem }), /key: does not belong to the certificate/);
  assert.throws(() => store.put({ namespace: "ns", name: "x", certPem: "junk", keyPem: cert.keyPem }), /cert: no PEM certificate/);
  assert.throws(() => store.put({ namespace: "ns", name: "x", ...cert, caPem: "junk" }), /cacert: no PEM certificate/);
  assert.throws(() => store.put({ namespace: "ns", name: "Bad_Name", ...cert }), /name "Bad_Name" is not a DNS-1123 name/);
  assert.deepEqual(store.list(), []);
});

test("a certificate outside its validity is not served, and says when it ended", async () => {
  const store = new SecretStore(join(dir, "c"), () => {});
  store.put({ namespace: "ns", name: "soon", ...cert });
  assert.ok(store.lookup("ns", "soon").material);
  assert.match(store.lookup("ns", "soon", Date.now() + 2 * 3600_000).error!, /its certificate expired on/);
});

test("the REST API stores Kubernetes-shaped TLS secrets and never returns the key", async () => {
  const store = new SecretStore(join(dir, "d"), () => {});
  const route = secretApi(store);
  server = createServer((req, res) => { void Promise.resolve(route(req, res, new URL(req.url!, "http://x"))).then((handled) => { if (!handled) { res.statusCode = 404; res.end(); } }); });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/namespaces/istio-system/secrets`;
  const put = (body: unknown) => fetch(`${base}/web`, { method: "PUT", body: JSON.stringify(body) });
  const created = await put({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: "web" }, stringData: { "tls.crt": cert.certPem, "tls.key": cert.keyPem } });
  assert.equal(created.status, 200);
  const wrongKey = await put({ kind: "Secret", metadata: { name: "web" }, data: { "tls.crt": Buffer.from(cert.certPem).toString("base64"), "tls.key": Buffer.from(other.keyPem).toString("base64") } });
  assert.equal(wrongKey.status, 400);
  assert.match(((await wrongKey.json()) as { message: string }).message, /secret istio-system\/web: key: does not belong/);
  const listed = await (await fetch(base)).text();
  assert.ok(!listed.includes("PRIVATE KEY") && listed.includes("a.example.com"));
  const one = await (await fetch(`${base}/web`)).text();
  assert.ok(!one.includes("PRIVATE KEY"));
  assert.equal((await fetch(`${base}/web`, { method: "DELETE" })).status, 200);
  assert.equal((await fetch(`${base}/web`)).status, 404);
  assert.ok(!existsSync(join(dir, "d", "istio-system", "web.json")));
});
