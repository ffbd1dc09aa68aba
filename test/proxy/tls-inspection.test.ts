// Filter chains chosen on the TLS ClientHello without terminating it (Envoy's tls_inspector): server_names exact
// and wildcard, application_protocols, the most specific chain winning whatever the config order; TLS passes
// through to real TLS servers untouched.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTcpServer } from "node:net";
import { connect, createServer, type Server } from "node:tls";
import { after, before, test } from "node:test";
import { CertificateAuthority } from "../../src/control/ca/authority.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";
import { clientHelloLength, parseClientHello, serverNameScore } from "../../src/proxy/listener/client-hello.js";
import { proxy, staticCluster, type TestProxy } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-sni-"));
const servers: Server[] = [];
let p: TestProxy;
const TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

/** A TLS server that says its name once the handshake is done, with the ALPN it agreed. */
async function tlsBackend(name: string, cert: { cert: string; key: string }): Promise<number> {
  const server = createServer({ cert: cert.cert, key: cert.key, ALPNProtocols: ["h2", "http/1.1"] }, (s) => s.end(`${name} ${s.alpnProtocol || "-"}`));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

/** Which backend a TLS client reaches with this SNI and ALPN, through the proxy. */
function reach(servername: string | undefined, alpn?: string[]): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port: p.port(), servername, ALPNProtocols: alpn, rejectUnauthorized: false });
    let data = "";
    s.on("data", (d: Buffer) => (data += d));
    s.on("error", () => resolve("closed"));
    s.on("close", () => resolve(data || "closed"));
    s.setTimeout(5_000, () => s.destroy());
  });
}

const chain = (cluster: string, match?: Record<string, unknown>) => ({
  ...(match ? { filter_chain_match: match } : {}),
  filters: [{ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP, stat_prefix: cluster, cluster } }],
});

before(async () => {
  const ca = await CertificateAuthority.open({ dir: join(dir, "ca") });
  const keys = await generateKeyPair();
  const chainPem = await ca.sign(await createCsr(keys, ["spiffe://cluster.local/ns/default/sa/tls"]), { trustDomain: "cluster.local", namespace: "default", serviceAccount: "tls" });
  const cert = { cert: chainPem[0], key: keys.keyPem };
  const ports: Record<string, number> = {};
  for (const name of ["exact", "wildcard", "h2", "fallback"]) ports[name] = await tlsBackend(name, cert);
  // Deliberately least specific first: Envoy ranks chains, it does not take the first that matches.
  p = await proxy([{
    name: "tls", address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" } }],
    filter_chains: [
      chain("fallback"),
      chain("h2", { application_protocols: ["h2"] }),
      chain("wildcard", { server_names: ["*.example.com"] }),
      chain("exact", { server_names: ["api.example.com"] }),
    ],
  }], Object.entries(ports).map(([name, port]) => staticCluster(name, [port])));
});

after(async () => {
  await p?.stop();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

test("server_names: the exact name beats the wildcard, the wildcard takes subdomains only, others fall back", async () => {
  assert.equal(await reach("api.example.com"), "exact -");
  assert.equal(await reach("API.Example.com"), "exact -", "names compare without case");
  assert.equal(await reach("shop.example.com"), "wildcard -");
  assert.equal(await reach("example.com"), "fallback -", "*.example.com does not cover example.com itself");
  assert.equal(await reach(undefined), "fallback -", "no SNI at all");
});

test("application_protocols choose among chains with no server name; the backend agrees the ALPN itself", async () => {
  assert.equal(await reach("other.org", ["h2", "http/1.1"]), "h2 h2");
  assert.equal(await reach("other.org", ["http/1.1"]), "fallback http/1.1");
  // A server name match ranks above an ALPN match.
  assert.equal(await reach("shop.example.com", ["h2"]), "wildcard h2");
});

test("the ClientHello parser reads SNI and ALPN from a real handshake, and garbage gives neither", async () => {
  // A plain TCP server keeps the first bytes a real TLS client sends: its ClientHello.
  const captured = await new Promise<Buffer>((resolve) => {
    const raw = createTcpServer((sock) => sock.once("data", (d: Buffer) => { resolve(d); sock.destroy(); raw.close(); }));
    raw.listen(0, "127.0.0.1", () => {
      const c = connect({ host: "127.0.0.1", port: (raw.address() as { port: number }).port, servername: "reviews.default.svc.cluster.local", ALPNProtocols: ["istio-peer-exchange", "istio"] });
      c.on("error", () => {});
    });
  });
  assert.equal(clientHelloLength(captured), captured.length);
  assert.deepEqual(parseClientHello(captured), { serverName: "reviews.default.svc.cluster.local", alpn: ["istio-peer-exchange", "istio"] });
  assert.deepEqual(parseClientHello(Buffer.from([0x16, 3, 1, 0, 4, 1, 0, 0, 9])), { alpn: [] });
  assert.equal(clientHelloLength(Buffer.from("GET / HTTP/1.1\r\n")), undefined);
  assert.ok(serverNameScore(["*.example.com"], "a.b.example.com") > 0);
  assert.equal(serverNameScore(["api.example.com"], undefined), -1);
});
