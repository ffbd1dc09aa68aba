// Mutual TLS between two proxies with certificates from Trellis' CA: upstream TLS with SPIFFE SAN checks,
// downstream TLS requiring client certificates, the peer's identity feeding RBAC, and plaintext refused.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";
import { backend as backendWith, get, HCM, proxy, ROUTER, staticCluster, type Backend, type TestProxy } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-mtls-"));
const cleanup: Array<() => Promise<void> | void> = [];
let ca: CertificateAuthority;
let backend: Backend;
let server: TestProxy;
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

const TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.";
const id = (sa: string) => `spiffe://cluster.local/ns/default/sa/${sa}`;

async function cert(sa: string): Promise<{ cert: string; key: string }> {
  const keys = await generateKeyPair();
  const chain = await ca.sign(await createCsr(keys, [id(sa)]), { trustDomain: "cluster.local", namespace: "default", serviceAccount: sa });
  return { cert: chain[0], key: keys.keyPem };
}

async function client(sa: string, expectServer: string): Promise<TestProxy> {
  const c = await cert(sa);
  const p = await proxy([{
    name: "out", address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    filter_chains: [{ filters: [{ name: "hcm", typed_config: { "@type": HCM, stat_prefix: "out", route_config: { virtual_hosts: [{ name: "a", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "reviews", retry_policy: { retry_on: "connect-failure", num_retries: 0 } } }] }] }, http_filters: [ROUTER] } }] }],
  }], [staticCluster("reviews", [server.port()], {
    transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}UpstreamTlsContext`, sni: "outbound_.9080_._.reviews.default.svc.cluster.local", common_tls_context: {
      tls_certificates: [{ certificate_chain: { inline_string: c.cert }, private_key: { inline_string: c.key } }],
      alpn_protocols: ["istio-peer-exchange", "istio", "http/1.1"],
      validation_context: { match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: expectServer } }], trusted_ca: { inline_string: ca.rootsPem() } },
    } } },
  })]);
  cleanup.unshift(() => p.stop());
  return p;
}

before(async () => {
  ca = await CertificateAuthority.open({ dir: join(dir, "ca") });
  // /slow answers after a second, so a caller can give up mid-request.
  backend = await backendWith((req, res) => {
    const answer = () => { res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify({ name: "reviews", path: req.url })); };
    if (req.url?.startsWith("/slow")) setTimeout(answer, 1000); else answer();
  });
  cleanup.push(() => backend.close());
  const s = await cert("bookinfo-reviews");
  server = await proxy([{
    name: "in", address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    filter_chains: [{
      transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": `${TLS}DownstreamTlsContext`, require_client_certificate: true, common_tls_context: {
        tls_certificates: [{ certificate_chain: { inline_string: s.cert }, private_key: { inline_string: s.key } }],
        validation_context: { trusted_ca: { inline_string: ca.rootsPem() } },
      } } },
      filters: [{ name: "hcm", typed_config: { "@type": HCM, stat_prefix: "in", route_config: { virtual_hosts: [{ name: "a", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "app" } }] }] }, http_filters: [
        { name: "envoy.filters.http.rbac", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC", rules: { action: "ALLOW", policies: { productpage: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: id("bookinfo-productpage") } } }] } } } } },
        ROUTER,
      ] } }],
    }],
  }], [staticCluster("app", [backend.port])]);
  cleanup.unshift(() => server.stop());
});

test("a client with the CA's certificate reaches the app over mutual TLS, and its SPIFFE identity passes RBAC", async () => {
  const c = await client("bookinfo-productpage", id("bookinfo-reviews"));
  const r = await get(c.url("/reviews/0"));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json().name, "reviews");
});

test("another identity is authenticated but denied by RBAC (403)", async () => {
  const c = await client("bookinfo-ratings", id("bookinfo-reviews"));
  const r = await get(c.url("/reviews/0"));
  assert.equal(r.status, 403);
  assert.equal(r.text, "RBAC: access denied");
});

test("a server whose SAN is not the expected identity is refused by the client (503, UF)", async () => {
  const c = await client("bookinfo-productpage", id("someone-else"));
  const r = await get(c.url("/reviews/0"));
  assert.equal(r.status, 503);
});

test("a caller giving up mid-request does not break the next one over mutual TLS", async () => {
  const c = await client("bookinfo-productpage", id("bookinfo-reviews"));
  assert.equal((await get(c.url("/reviews/0"))).status, 200);
  for (let i = 0; i < 3; i++) {
    const aborted = await fetch(c.url("/slow"), { signal: AbortSignal.timeout(200) }).then(() => "answered", (e: Error) => e.name);
    assert.equal(aborted, "TimeoutError");
    const next = await get(c.url("/reviews/0"));
    assert.equal(next.status, 200, `request after an abort: ${next.text}`);
  }
});

test("plaintext to the mTLS listener gets no HTTP answer", async () => {
  const reply = await new Promise<string>((resolve) => {
    const s = connect({ host: "127.0.0.1", port: server.port() }, () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("close", () => resolve(data));
    s.on("error", () => resolve(data));
    setTimeout(() => { s.destroy(); resolve(data); }, 2000).unref();
  });
  assert.doesNotMatch(reply, /HTTP\/1.1 200/);
});
