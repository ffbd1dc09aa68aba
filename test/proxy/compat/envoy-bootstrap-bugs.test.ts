// Envoy-syntax bootstraps that real configs write (front-proxy shape: unnamed listeners, no cluster type, lower-case
// enums; TLS upstreams with only `sni`), driven through a real `trellis proxy` process with real traffic.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";
import { serverCerts } from "../../fixtures/tls-certs.js";

const closers: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of closers.reverse()) await c(); });

function get(port: number, path = "/", host = "example"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

function hcm(prefix: string, cluster: string): string {
  return `
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          codec_type: auto
          stat_prefix: ${prefix}
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: ${cluster} }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
}

function cluster(name: string, port: number, extra = ""): string {
  return `
  - name: ${name}
    connect_timeout: 1s
    lb_policy: round_robin
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: ${port} }${extra}`;
}

const ADMIN = `
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`;

async function started(yaml: string): Promise<BootstrapProxy> {
  const p = await startBootstrapProxy(yaml);
  closers.push(() => p.stop());
  return p;
}

async function backendNamed(name: string): Promise<Backend> {
  const b = await echo(name);
  closers.push(() => b.close());
  return b;
}

test("two unnamed listeners both serve, both are listed, and SIGTERM closes both so the proxy exits", async () => {
  const [one, two] = [await backendNamed("one"), await backendNamed("two")];
  const p = await started(`static_resources:
  listeners:
  - address:
      socket_address: { address: 127.0.0.1, port_value: 0 }${hcm("ingress_one", "service1")}
  - address:
      socket_address: { address: 127.0.0.1, port_value: 0 }${hcm("ingress_two", "service2")}
  clusters:${cluster("service1", one.port)}${cluster("service2", two.port)}
${ADMIN}`);
  const ports = [...p.listeners.values()];
  assert.equal(ports.length, 2, `both listeners in the startup line: ${p.output()}`);
  const names = (await Promise.all(ports.map((port) => get(port)))).map((r) => JSON.parse(r.body).name).sort();
  assert.deepEqual(names, ["one", "two"]);
  const listed = (await get(p.adminPort, "/listeners")).body;
  for (const name of p.listeners.keys()) assert.ok(listed.includes(name), `/listeners shows ${name}: ${listed}`);
  assert.equal(await p.stop(), 0, `exits on SIGTERM: ${p.output()}`);
});

test("a bootstrap that names one listener twice is refused, not half-served", async () => {
  const b = await backendNamed("dup");
  const listener = `
  - name: same
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }${hcm("dup", "service1")}`;
  await assert.rejects(startBootstrapProxy(`static_resources:\n  listeners:${listener}${listener}\n  clusters:${cluster("service1", b.port)}\n${ADMIN}`), /listener "same" appears twice/);
});

test("an UpstreamTlsContext with only sni: TLS without verification (warned at load), as Envoy", async () => {
  const certs = await serverCerts("upstream.test");
  let sawSni: string | undefined;
  const server = createHttpsServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
    sawSni = (req.socket as unknown as { servername?: string }).servername;
    res.end("over tls");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const port = (server.address() as AddressInfo).port;
  const tls = (validation: string) => `
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: upstream.test${validation}`;
  const p = await started(`static_resources:
  listeners:
  - name: plain
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }${hcm("plain", "tls_sni_only")}
  - name: checked
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }${hcm("checked", "tls_system_roots")}
  clusters:${cluster("tls_sni_only", port, tls(""))}${cluster("tls_system_roots", port, tls(`
        common_tls_context:
          validation_context: {}`))}
${ADMIN}`);
  const r = await get(p.listeners.get("plain")!);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, "over tls");
  assert.equal(sawSni, "upstream.test");
  assert.match(p.output(), /cluster tls_sni_only\.transport_socket: UpstreamTlsContext has no validation_context, so the upstream's certificate is not verified/);
  assert.doesNotMatch(p.output(), /cluster tls_system_roots\.transport_socket: UpstreamTlsContext has no validation_context/);
  // Asked to validate (an empty validation_context: the system's roots), the test CA's certificate is refused.
  assert.equal((await get(p.listeners.get("checked")!)).status, 503);
});
