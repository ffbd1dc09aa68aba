// jwt_authn's newer JwtProvider fields in an Envoy-syntax bootstrap, driven through a real proxy process: subjects
// (a JWT-SVID style prefix), max_lifetime, pad_forward_payload_header, header_in_metadata and
// normalize_payload_in_metadata (both read back by an RBAC policy on the dynamic metadata, as Istio's claims are), and
// jwt_cache_config (a cached token still expires on time).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { request } from "node:http";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";
import { jwks, jwt, signingKey } from "../../fixtures/jwt-tokens.js";

const key = signingKey("k1");
let app: Backend;
let p: BootstrapProxy;

function get(path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: p.listeners.get("api")!, path, headers: { host: "api", ...(token ? { authorization: `Bearer ${token}` } : {}) }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

const now = () => Math.floor(Date.now() / 1000);
const token = (claims: Record<string, unknown>) => jwt(key, { iss: "https://issuer.test", ...claims });

before(async () => {
  app = await echo("api");
  const inlineJwks = JSON.stringify(jwks(key));
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
              providers:
                svid:
                  issuer: https://issuer.test
                  local_jwks: { inline_string: ${inlineJwks} }
                  subjects: { prefix: "spiffe://example.org/" }
                  max_lifetime: 3600s
                  forward_payload_header: x-jwt-payload
                  pad_forward_payload_header: true
                  payload_in_metadata: payload
                  header_in_metadata: jwt_header
                  normalize_payload_in_metadata: { space_delimited_claims: [scope] }
                  jwt_cache_config: { jwt_cache_size: 2 }
              rules:
              - match: { prefix: / }
                requires: { provider_name: svid }
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                action: ALLOW
                policies:
                  scoped:
                    permissions: [{ url_path: { path: { prefix: /admin } } }]
                    principals:
                    - and_ids:
                        ids:
                        - metadata: { filter: envoy.filters.http.jwt_authn, path: [{ key: payload }, { key: scope }], value: { list_match: { one_of: { string_match: { exact: admin } } } } }
                        - metadata: { filter: envoy.filters.http.jwt_authn, path: [{ key: jwt_header }, { key: kid }], value: { string_match: { exact: k1 } } }
                  open:
                    permissions: [{ url_path: { path: { prefix: /items } } }]
                    principals: [{ any: true }]
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: app
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${app.port} } } }
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`);
});
after(async () => {
  await p?.stop();
  await app?.close();
});

test("subjects: only tokens whose sub the matcher allows", async () => {
  assert.equal((await get("/items", token({ sub: "spiffe://example.org/ns/shop/sa/web" }))).status, 200);
  const r = await get("/items", token({ sub: "spiffe://elsewhere.org/ns/shop/sa/web" }));
  assert.equal(r.status, 401);
  assert.match(r.body, /subject is not allowed/);
});

test("max_lifetime: a token living longer than allowed, or without exp, is refused", async () => {
  const sub = "spiffe://example.org/a";
  assert.equal((await get("/items", token({ sub, exp: now() + 1800 }))).status, 200);
  const long = await get("/items", token({ sub, exp: now() + 7200 }));
  assert.equal(long.status, 401);
  assert.match(long.body, /max_lifetime/);
  assert.equal((await get("/items", token({ sub, exp: undefined }))).status, 401, "exp is required with max_lifetime");
});

test("pad_forward_payload_header: the forwarded payload is padded base64", async () => {
  // A payload whose base64url length is not a multiple of 4, so padding shows.
  for (const pad of ["a", "ab", "abc"]) {
    const t = token({ sub: "spiffe://example.org/a", n: pad });
    const r = await get("/items", t);
    assert.equal(r.status, 200);
    const forwarded = (JSON.parse(r.body) as { headers: Record<string, string> }).headers["x-jwt-payload"];
    assert.equal(forwarded.length % 4, 0, `padded: ${forwarded}`);
    assert.equal(forwarded.replace(/=+$/, ""), t.split(".")[1]);
  }
});

test("header_in_metadata and normalize_payload_in_metadata reach RBAC's metadata matchers", async () => {
  const sub = "spiffe://example.org/a";
  assert.equal((await get("/admin", token({ sub, scope: "read admin" }))).status, 200, "scope split into a list holding admin; header kid k1");
  assert.equal((await get("/admin", token({ sub, scope: "read write" }))).status, 403);
  assert.equal((await get("/admin", token({ sub, scope: "readadmin" }))).status, 403, "split on spaces only");
});

test("jwt_cache_config: a cached token is still checked against the clock", async () => {
  const t = token({ sub: "spiffe://example.org/a", exp: now() + 2 });
  assert.equal((await get("/items", t)).status, 200);
  assert.equal((await get("/items", t)).status, 200, "served from the cache");
  // exp + the default 60 s clock skew has to pass: not waited for here; a token expired beyond the skew instead.
  const old = token({ sub: "spiffe://example.org/a", exp: now() - 120 });
  assert.equal((await get("/items", old)).status, 401);
  assert.equal((await get("/items", old)).status, 401, "a failed token is not cached as good");
});
