// layered_runtime as Envoy's and Istio's bootstraps write it: a static layer, a disk layer (a directory tree, one
// file per key) and an admin layer, read per request by the fault filter's keys and a route's runtime_fraction,
// and changed while the proxy runs through the admin's /runtime_modify.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-runtime-"));
let app: Backend;
let p: BootstrapProxy;

function call(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: "example" }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

before(async () => {
  app = await echo("app");
  // The disk layer: <symlink_root>/<subdirectory>/fault/http/abort/http_status holds "418".
  mkdirSync(join(dir, "current", "envoy", "fault", "http", "abort"), { recursive: true });
  writeFileSync(join(dir, "current", "envoy", "fault", "http", "abort", "http_status"), "418\n");
  p = await startBootstrapProxy(`layered_runtime:
  layers:
  - name: static
    static_layer:
      fault:
        http:
          abort:
            abort_percent: 0
      overload:
        global_downstream_max_connections: 50000
  - name: disk
    disk_layer: { symlink_root: ${join(dir, "current")}, subdirectory: envoy }
  - name: admin
    admin_layer: {}
static_resources:
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
              - match:
                  prefix: /canary
                  runtime_fraction:
                    default_value: { numerator: 0, denominator: HUNDRED }
                    runtime_key: routing.canary
                direct_response: { status: 200, body: { inline_string: canary } }
              - match: { prefix: / }
                route: { cluster: app }
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort:
                http_status: 503
                percentage: { numerator: 100, denominator: HUNDRED }
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
  rmSync(dir, { recursive: true, force: true });
});

test("the static layer's fault.http.abort.abort_percent 0 turns off the configured 100% abort", async () => {
  for (let i = 0; i < 5; i++) assert.equal((await call(p.listeners.get("main")!, "GET", "/")).status, 200);
});

test("the admin layer turns the abort on; its status comes from the disk layer; /runtime shows every layer", async () => {
  const port = p.listeners.get("main")!;
  assert.equal((await call(p.adminPort, "POST", "/runtime_modify?fault.http.abort.abort_percent=100")).status, 200);
  assert.equal((await call(port, "GET", "/")).status, 418, "abort on (admin layer), status 418 (disk layer)");
  const dump = JSON.parse((await call(p.adminPort, "GET", "/runtime")).body);
  assert.deepEqual(dump.layers, ["static", "disk", "admin"]);
  assert.deepEqual(dump.entries["fault.http.abort.abort_percent"], { final_value: "100", layer_values: ["0", "", "100"] });
  assert.equal(dump.entries["fault.http.abort.http_status"].final_value, "418");
  assert.equal((await call(p.adminPort, "POST", "/runtime_modify?fault.http.abort.abort_percent=")).status, 200, "an empty value removes the key");
  assert.equal((await call(port, "GET", "/")).status, 200);
});

test("a route's runtime_fraction follows its runtime_key", async () => {
  const port = p.listeners.get("main")!;
  assert.notEqual((await call(port, "GET", "/canary")).body, "canary", "0% by default: the next route answers");
  await call(p.adminPort, "POST", "/runtime_modify?routing.canary=100");
  assert.equal((await call(port, "GET", "/canary")).body, "canary");
});
