// xDS from files, as Envoy's dynamic-config-fs example runs it: lds.yaml and cds.yaml named by path_config_source;
// editing cds.yaml (written aside, moved into place) re-points the route's cluster to another backend while the
// proxy runs, and a broken file is rejected with the last good config kept.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { echo, type Backend } from "../harness.js";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-xds-fs-"));
let one: Backend;
let two: Backend;
let p: BootstrapProxy;

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { host: "example" }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** Envoy's way to change a watched file: write it aside, then move it into place. */
function replace(name: string, text: string): void {
  writeFileSync(join(dir, `.${name}.tmp`), text);
  renameSync(join(dir, `.${name}.tmp`), join(dir, name));
}

function cds(port: number): string {
  return `resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: example_proxy_cluster
  type: STRICT_DNS
  typed_extension_protocol_options: {}
  load_assignment:
    cluster_name: example_proxy_cluster
    endpoints:
    - lb_endpoints:
      - endpoint:
          address:
            socket_address: { address: 127.0.0.1, port_value: ${port} }
`;
}

const LDS = `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
  filter_chains:
  - filters:
    - name: envoy.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ingress_http
        http_filters:
        - name: envoy.filters.http.router
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        route_config:
          name: local_route
          virtual_hosts:
          - name: local_service
            domains: ["*"]
            routes:
            - match: { prefix: "/" }
              route: { cluster: example_proxy_cluster }
`;

before(async () => {
  one = await echo("one");
  two = await echo("two");
  replace("cds.yaml", cds(one.port));
  replace("lds.yaml", LDS);
  p = await startBootstrapProxy(`node:
  cluster: test-cluster
  id: test-id
dynamic_resources:
  cds_config:
    resource_api_version: V3
    path_config_source:
      path: ${join(dir, "cds.yaml")}
      watched_directory:
        path: ${dir}
  lds_config:
    resource_api_version: V3
    path_config_source:
      path: ${join(dir, "lds.yaml")}
      watched_directory:
        path: ${dir}
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`);
});
after(async () => {
  await p?.stop();
  await one?.close();
  await two?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function servedBy(port: number, name: string): Promise<boolean> {
  // Bounded: a change must be picked up within 10 s.
  for (let i = 0; i < 50; i++) {
    const r = await get(port);
    if (r.status === 200 && JSON.parse(r.body).name === name) return true;
    await new Promise((res) => setTimeout(res, 200));
  }
  return false;
}

test("the listener and cluster come from the files; a moved-in cds.yaml re-points the cluster", async () => {
  const port = p.listeners.get("listener_0")!;
  assert.ok(port, `listener_0 from lds.yaml: ${p.output()}`);
  assert.equal(JSON.parse((await get(port)).body).name, "one");
  replace("cds.yaml", cds(two.port));
  assert.ok(await servedBy(port, "two"), "served by the new backend after the file changed");
});

test("a broken file is rejected by name and the last good config keeps serving", async () => {
  const port = p.listeners.get("listener_0")!;
  replace("cds.yaml", "resources:\n- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: example_proxy_cluster\n  lb_policy: NOT_A_POLICY\n");
  for (let i = 0; i < 50 && !/cds file .* rejected/.test(p.output()); i++) await new Promise((res) => setTimeout(res, 200));
  assert.match(p.output(), /cds file .*cds\.yaml rejected: .*lb_policy/);
  assert.equal(JSON.parse((await get(port)).body).name, "two");
});
