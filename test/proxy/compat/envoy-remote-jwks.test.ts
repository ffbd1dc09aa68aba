// jwt_authn with remote_jwks, as Envoy's jwt examples and Istio's bootstrap-less sidecars configure it: a real proxy
// process fetches the key set through its cluster from a real JWKS server on loopback, caches it for
// cache_duration, fetches again after a key rotation, and fails tokens (401) while the server cannot be reached.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";
import { jwks, jwt, type SigningKey, signingKey } from "../../fixtures/jwt-tokens.js";

let app: Backend;
let p: BootstrapProxy;
let jwksServer: Server;
let served: SigningKey[];
const fetches: string[] = [];
const first = signingKey("k1");
const rotated = signingKey("k2");

function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host: "api", ...(token ? { authorization: `Bearer ${token}` } : {}) }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

function provider(name: string, cluster: string, cache: string): string {
  return `
                ${name}:
                  issuer: https://issuer.test
                  audiences: [compat]
                  forward: true
                  remote_jwks:
                    http_uri:
                      uri: http://issuer.test/.well-known/jwks.json
                      cluster: ${cluster}
                      timeout: 2s
                    cache_duration: ${cache}`;
}

before(async () => {
  app = await echo("api");
  served = [first];
  jwksServer = createServer((req, res) => {
    fetches.push(`${req.headers.host}${req.url}`);
    res.writeHead(200, { "content-type": "application/json" }).end(jwks(...served));
  });
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  const jwksPort = (jwksServer.address() as AddressInfo).port;
  const cluster = (name: string, port: number) => `
  - name: ${name}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
  p = await startBootstrapProxy(`static_resources:
  listeners:
  - name: api
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: api
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: app }
          http_filters:
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:${provider("issuer", "jwks_cluster", "2s")}${provider("down", "jwks_down", "600s")}
              rules:
              - match: { prefix: /down }
                requires: { provider_name: down }
              - match: { prefix: / }
                requires: { provider_name: issuer }
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:${cluster("app", app.port)}${cluster("jwks_cluster", jwksPort)}${cluster("jwks_down", 1)}
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`);
});
after(async () => {
  await p?.stop();
  await app?.close();
  jwksServer?.closeAllConnections();
  await new Promise((r) => jwksServer?.close(r));
});

test("the key set is fetched through its cluster on first use and cached; a bad token is refused", async () => {
  const port = p.listeners.get("api")!;
  const good = jwt(first, { iss: "https://issuer.test", aud: "compat", sub: "alice" });
  const [a, b] = await Promise.all([get(port, "/items", good), get(port, "/items", good)]);
  assert.deepEqual([a.status, b.status], [200, 200], a.body + b.body);
  assert.equal((await get(port, "/items", good)).status, 200);
  assert.deepEqual(fetches, ["issuer.test/.well-known/jwks.json"], "one fetch for concurrent and later requests");
  assert.equal((await get(port, "/items", jwt(rotated, { iss: "https://issuer.test", aud: "compat" }))).status, 401, "a key the set does not hold");
  assert.equal((await get(port, "/items")).status, 401, "no token");
});

test("after cache_duration the set is fetched again, so a rotated key is accepted", async () => {
  const port = p.listeners.get("api")!;
  served = [first, rotated];
  const token = jwt(rotated, { iss: "https://issuer.test", aud: "compat" });
  let status = 0;
  // Bounded: the 2 s cache must expire within 15 s of polling.
  for (let i = 0; i < 60 && status !== 200; i++) {
    status = (await get(port, "/items", token)).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(status, 200);
  assert.ok(fetches.length >= 2, `fetched again: ${fetches.length}`);
});

test("a JWKS server that cannot be reached fails the provider's tokens with 401", async () => {
  const r = await get(p.listeners.get("api")!, "/down", jwt(first, { iss: "https://issuer.test", aud: "compat" }));
  assert.equal(r.status, 401);
  assert.match(r.body, /Jwks remote fetch is failed/);
});
