// envoy.filters.http.ext_authz with grpc_service, as Envoy's ext_authz example and Istio's envoyExtAuthzGrpc use it:
// a real proxy process asks a real gRPC Authorization service (envoy.service.auth.v3) on loopback, which allows with
// headers for the upstream and the client, denies with its own status, body and headers, or cannot be reached.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { request } from "node:http";
import { CANONICAL } from "../../../src/xds/resource.js";
import { envoyRoot } from "../../../src/xds/proto-root.js";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

let app: Backend;
let p: BootstrapProxy;
let server: grpc.Server;
const checks: Array<{ method: string; path: string; headers: Record<string, string>; source: string }> = [];

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host: "example", ...headers }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** The authorization policy: /allow passes (adding headers), /deny is refused with 401 and a body. */
function decide(path: string): unknown {
  if (path.startsWith("/allow")) {
    return { status: { code: 0 }, ok_response: {
      headers: [{ header: { key: "x-authz-user", value: "alice" } }],
      headers_to_remove: ["x-drop-me"],
      response_headers_to_add: [{ header: { key: "x-authz-checked", value: "yes" } }],
    } };
  }
  return { status: { code: 7 }, denied_response: { status: { code: "Unauthorized" }, headers: [{ header: { key: "www-authenticate", value: "Bearer" } }], body: "go away" } };
}

function bootstrap(authzPort: number, failureModeAllow: boolean, listenerName: string): string {
  return `
  - name: ${listenerName}
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${listenerName}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: app }
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              failure_mode_allow: ${failureModeAllow}
              grpc_service:
                envoy_grpc: { cluster_name: ${authzPort === 0 ? "nowhere" : "ext_authz"} }
                timeout: 2s
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
}

before(async () => {
  app = await echo("app");
  server = new grpc.Server();
  const req = envoyRoot().lookupType("envoy.service.auth.v3.CheckRequest");
  const res = envoyRoot().lookupType("envoy.service.auth.v3.CheckResponse");
  const identity = (b: Buffer) => b;
  server.addService({
    Check: { path: "/envoy.service.auth.v3.Authorization/Check", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  }, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const r = req.toObject(req.decode(call.request), CANONICAL) as { attributes: { source: { address: { socket_address: { address: string } } }; request: { http: { method: string; path: string; headers: Record<string, string> } } } };
      const http = r.attributes.request.http;
      checks.push({ method: http.method, path: http.path, headers: http.headers, source: r.attributes.source.address.socket_address.address });
      cb(null, Buffer.from(res.encode(res.fromObject(decide(http.path) as object)).finish()));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, x) => (err ? reject(err) : resolve(x))));
  const h2 = `
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }`;
  const cluster = (name: string, port: number, extra = "") => `
  - name: ${name}${extra}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
  p = await startBootstrapProxy(`static_resources:
  listeners:${bootstrap(port, false, "checked")}${bootstrap(0, false, "closed")}${bootstrap(0, true, "open")}
  clusters:${cluster("app", app.port)}${cluster("ext_authz", port, h2)}${cluster("nowhere", 1, h2)}
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`);
});
after(async () => {
  await p?.stop();
  await app?.close();
  await new Promise<void>((r) => (server ? server.tryShutdown(() => r()) : r()));
});

test("allowed: the upstream gets the service's headers (and not the removed one), the client the response headers", async () => {
  const r = await get(p.listeners.get("checked")!, "/allow/this?x=1", { "x-drop-me": "1", "x-custom": "seen" });
  assert.equal(r.status, 200);
  const upstream = JSON.parse(r.body).headers as Record<string, string>;
  assert.equal(upstream["x-authz-user"], "alice");
  assert.equal(upstream["x-drop-me"], undefined);
  assert.equal(r.headers["x-authz-checked"], "yes");
  const check = checks.at(-1)!;
  assert.deepEqual([check.method, check.path, check.headers["x-custom"], check.source], ["GET", "/allow/this?x=1", "seen", "127.0.0.1"]);
});

test("denied: the client gets the service's status, body and headers; the upstream is never reached", async () => {
  const before = app.hits;
  const r = await get(p.listeners.get("checked")!, "/deny");
  assert.equal(r.status, 401);
  assert.equal(r.body, "go away");
  assert.equal(r.headers["www-authenticate"], "Bearer");
  assert.equal(app.hits, before);
});

test("an unreachable service denies with 403, unless failure_mode_allow", async () => {
  assert.equal((await get(p.listeners.get("closed")!, "/allow")).status, 403);
  assert.equal((await get(p.listeners.get("open")!, "/allow")).status, 200);
});
