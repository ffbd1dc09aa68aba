// envoy.filters.http.csrf (Envoy's csrf example: enforced, with an additional origin; a shadow route that only
// counts) and envoy.filters.http.health_check (answered by the proxy, or failing while a cluster is unhealthy),
// through a real `trellis proxy` process.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { request } from "node:http";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

let app: Backend;
let p: BootstrapProxy;

function call(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: "www.example.com", ...headers }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

const HCM = `"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;

before(async () => {
  app = await echo("app");
  p = await startBootstrapProxy(`static_resources:
  listeners:
  - name: main
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          ${HCM}
          stat_prefix: main
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: /shadow }
                route: { cluster: app }
                typed_per_filter_config:
                  envoy.filters.http.csrf:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy
                    filter_enabled: { default_value: { numerator: 0, denominator: HUNDRED } }
                    shadow_enabled: { default_value: { numerator: 100, denominator: HUNDRED } }
              - match: { prefix: / }
                route: { cluster: app }
          http_filters:
          - name: envoy.filters.http.health_check
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
              pass_through_mode: false
              headers:
              - name: ":path"
                string_match: { exact: /healthz }
              cluster_min_healthy_percentages:
                app: { value: 100 }
          - name: envoy.filters.http.csrf
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy
              filter_enabled:
                default_value: { numerator: 100, denominator: HUNDRED }
                runtime_key: csrf.www.enabled
              additional_origins:
              - exact: trusted.example.com
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  - name: degraded
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          ${HCM}
          stat_prefix: degraded
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: app }
          http_filters:
          - name: envoy.filters.http.health_check
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
              pass_through_mode: false
              headers:
              - name: ":path"
                string_match: { exact: /healthz }
              cluster_min_healthy_percentages:
                empty: { value: 50 }
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: empty
    load_assignment: { cluster_name: empty }
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

test("csrf: same origin and additional origins pass, others and a missing origin get 403; reads are not checked", async () => {
  const port = p.listeners.get("main")!;
  assert.equal((await call(port, "POST", "/submit", { origin: "https://www.example.com" })).status, 200);
  assert.equal((await call(port, "POST", "/submit", { origin: "https://trusted.example.com" })).status, 200);
  assert.equal((await call(port, "POST", "/submit", { referer: "https://www.example.com/form" })).status, 200, "Referer when there is no Origin");
  const evil = await call(port, "DELETE", "/submit", { origin: "https://evil.example.net" });
  assert.equal(evil.status, 403);
  assert.equal(evil.body, "Invalid origin");
  assert.equal((await call(port, "POST", "/submit")).status, 403, "no source origin");
  assert.equal((await call(port, "GET", "/submit", { origin: "https://evil.example.net" })).status, 200);
});

test("csrf in shadow on one route: counted, not refused", async () => {
  const port = p.listeners.get("main")!;
  assert.equal((await call(port, "POST", "/shadow", { origin: "https://evil.example.net" })).status, 200);
  const stats = (await call(p.adminPort, "GET", "/stats?filter=csrf")).body;
  assert.match(stats, /http\.main\.csrf\.request_invalid: [2-9]/);
});

test("health_check: the proxy answers /healthz itself; 503 when a watched cluster has too few healthy hosts", async () => {
  const before = app.hits;
  assert.equal((await call(p.listeners.get("main")!, "GET", "/healthz")).status, 200);
  assert.equal(app.hits, before, "not passed through");
  const degraded = await call(p.listeners.get("degraded")!, "GET", "/healthz");
  assert.equal(degraded.status, 503, "cluster empty has no hosts, below its 50%");
  assert.equal((await call(p.listeners.get("degraded")!, "GET", "/other")).status, 200, "other paths are not health checks");
});
