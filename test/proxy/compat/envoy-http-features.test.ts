// HTTP features real Envoy configs use, through a real `trellis proxy` process: Envoy's local rate limit example
// (runtime keys at their defaults, response_headers_to_add on the 429) and request mirroring by cluster_header.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { request } from "node:http";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

const closers: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of closers.reverse()) await c(); });

function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { host: "example", ...headers }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

async function backendNamed(name: string): Promise<Backend> {
  const b = await echo(name);
  closers.push(() => b.close());
  return b;
}

async function started(yaml: string): Promise<BootstrapProxy> {
  const p = await startBootstrapProxy(yaml);
  closers.push(() => p.stop());
  return p;
}

function cluster(name: string, port: number): string {
  return `
  - name: ${name}
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
}

function bootstrap(routeAction: string, filters: string, clusters: string): string {
  return `static_resources:
  listeners:
  - name: main
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: main
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:${routeAction}
          http_filters:${filters}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:${clusters}
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`;
}

test("local rate limit (Envoy's example): the over-limit 429 carries response_headers_to_add", async () => {
  const b = await backendNamed("limited");
  const p = await started(bootstrap(`
                  cluster: app`, `
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: http_local_rate_limiter
              token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 3600s }
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value: { numerator: 100, denominator: HUNDRED }
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value: { numerator: 100, denominator: HUNDRED }
              response_headers_to_add:
              - append_action: OVERWRITE_IF_EXISTS_OR_ADD
                header: { key: x-local-rate-limit, value: "true" }`, cluster("app", b.port)));
  const port = p.listeners.get("main")!;
  const first = await get(port);
  assert.equal(first.status, 200);
  assert.equal(first.headers["x-local-rate-limit"], undefined, "only limited replies carry the header");
  const second = await get(port);
  assert.equal(second.status, 429);
  assert.equal(second.headers["x-local-rate-limit"], "true");
});

test("request mirroring by cluster_header: the header names the shadow cluster; without it, no copy", async () => {
  const [main, shadow] = [await backendNamed("main"), await backendNamed("shadow")];
  const seen: string[] = [];
  shadow.server.prependListener("request", (req) => seen.push(String(req.headers.host)));
  const p = await started(bootstrap(`
                  cluster: app
                  request_mirror_policies:
                  - cluster_header: x-mirror-to`, "", cluster("app", main.port) + cluster("shadow_copy", shadow.port)));
  const port = p.listeners.get("main")!;
  assert.equal((await get(port)).status, 200);
  assert.equal((await get(port, { "x-mirror-to": "shadow_copy" })).status, 200);
  for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(seen, ["example-shadow"], "one copy, for the request that named the cluster");
  assert.equal(main.hits, 2);
});
