// local_reply_config as Envoy's docs write it: a mapper turns the 503 of a cluster with no hosts into a 401 with its
// own body and header, and body_format renders every local reply (no route, the mapped one) as JSON, through a real
// `trellis proxy` process.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { request } from "node:http";
import { type BootstrapProxy, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

let p: BootstrapProxy;

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

before(async () => {
  p = await startBootstrapProxy(`static_resources:
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
          local_reply_config:
            mappers:
            - filter:
                status_code_filter:
                  comparison:
                    op: EQ
                    value: { default_value: 503, runtime_key: key_b }
              headers_to_add:
              - header: { key: foo, value: bar }
                append_action: OVERWRITE_IF_EXISTS_OR_ADD
              status_code: 401
              body: { inline_string: "not allowed" }
            - filter:
                header_filter:
                  header: { name: x-plain, present_match: true }
              body_format_override:
                text_format: "plain %RESPONSE_CODE%: %LOCAL_REPLY_BODY%"
            body_format:
              json_format:
                status: "%RESPONSE_CODE%"
                message: "%LOCAL_REPLY_BODY%"
                path: "%REQ(:path)%"
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/empty" }
                route: { cluster: empty }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: empty
    load_assignment: { cluster_name: empty }
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`);
});
after(async () => {
  await p?.stop();
});

test("a mapper rewrites status, body and headers; body_format renders it as JSON", async () => {
  const r = await get(p.listeners.get("main")!, "/empty/thing");
  assert.equal(r.status, 401);
  assert.equal(r.headers.foo, "bar");
  assert.match(String(r.headers["content-type"]), /^application\/json/);
  const body = JSON.parse(r.body);
  assert.deepEqual([String(body.status), body.message, body.path], ["401", "not allowed", "/empty/thing"]);
});

test("an unmapped local reply (no route) gets the body format; a mapper's override wins where it matches", async () => {
  const r = await get(p.listeners.get("main")!, "/nowhere");
  assert.equal(r.status, 404);
  const body = JSON.parse(r.body);
  assert.deepEqual([String(body.status), body.path], ["404", "/nowhere"]);
  const plain = await get(p.listeners.get("main")!, "/nowhere", { "x-plain": "1" });
  assert.equal(plain.status, 404);
  assert.match(plain.body, /^plain 404: /);
  assert.match(String(plain.headers["content-type"]), /^text\/plain/);
});
