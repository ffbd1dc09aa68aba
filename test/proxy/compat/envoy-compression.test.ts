// envoy.filters.http.compressor (gzip and brotli side by side, as Envoy's compression example) and the decompressor,
// through a real `trellis proxy` process: the coding follows Accept-Encoding's q-values, bodies really decompress
// on the client side, small or already-encoded bodies pass as they are, and zstd is refused by name.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { request } from "node:http";
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { backend, type Backend } from "../harness.js";
import { type BootstrapProxy, refusedBootstrap, startBootstrapProxy } from "../../fixtures/bootstrap-proxy.js";

const TEXT = "trellis compresses what Envoy would. ".repeat(100);
let app: Backend;
let p: BootstrapProxy;
const seenAcceptEncoding: string[] = [];

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host: "example", ...headers }, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

const library = (type: string, extra = "") => `
              "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
              response_direction_config:
                common_config:
                  min_content_length: 100
                  content_type: [text/plain, application/json]
              compressor_library:
                name: ${type}
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.compression.${type}.compressor.v3.${type === "gzip" ? "Gzip" : "Brotli"}${extra}`;

function listener(name: string, filters: string): string {
  return `
  - name: ${name}
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: app }
          http_filters:${filters}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
}

const ADMIN = `
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
`;

before(async () => {
  app = await backend((req, res) => {
    seenAcceptEncoding.push(String(req.headers["accept-encoding"] ?? ""));
    if (req.url === "/small") return void res.writeHead(200, { "content-type": "text/plain", "content-length": 4 }).end("tiny");
    if (req.url === "/png") return void res.writeHead(200, { "content-type": "image/png" }).end(TEXT);
    if (req.url === "/gzipped") return void res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" }).end(gzipSync(TEXT));
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", etag: '"v1"' }).end(TEXT);
  });
  p = await startBootstrapProxy(`static_resources:
  listeners:${listener("compress", `
          - name: envoy.filters.http.compressor.brotli
            typed_config:${library("brotli", `
                  quality: 5`)}
          - name: envoy.filters.http.compressor.gzip
            typed_config:${library("gzip", `
                  compression_level: BEST_SPEED`)}`)}${listener("decompress", `
          - name: envoy.filters.http.decompressor
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor
              decompressor_library:
                name: gzip
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip
              request_direction_config:
                common_config:
                  enabled: { default_value: false, runtime_key: decompress_requests }`)}
  clusters:
  - name: app
    connect_timeout: 1s
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${app.port} } } }
${ADMIN}`);
});
after(async () => {
  await p?.stop();
  await app?.close();
});

test("the coding the client prefers: brotli for br;q=1, gzip for gzip, Vary set, strong ETag dropped", async () => {
  const port = p.listeners.get("compress")!;
  const br = await get(port, "/", { "accept-encoding": "gzip;q=0.5, br" });
  assert.equal(br.headers["content-encoding"], "br");
  assert.equal(br.headers["content-length"], undefined);
  assert.match(String(br.headers.vary), /accept-encoding/i);
  assert.equal(br.headers.etag, undefined, "a strong ETag does not survive compression");
  assert.equal(brotliDecompressSync(br.body).toString(), TEXT);
  assert.ok(br.body.length < TEXT.length / 5, `compressed: ${br.body.length} bytes of ${TEXT.length}`);
  const gz = await get(port, "/", { "accept-encoding": "gzip" });
  assert.equal(gz.headers["content-encoding"], "gzip");
  assert.equal(gunzipSync(gz.body).toString(), TEXT);
});

test("no compression without Accept-Encoding, below min_content_length, for other types, or when already encoded", async () => {
  const port = p.listeners.get("compress")!;
  const plain = await get(port, "/");
  assert.equal(plain.headers["content-encoding"], undefined);
  assert.equal(plain.body.toString(), TEXT);
  assert.equal((await get(port, "/small", { "accept-encoding": "gzip" })).headers["content-encoding"], undefined);
  assert.equal((await get(port, "/png", { "accept-encoding": "gzip" })).headers["content-encoding"], undefined);
  const identity = await get(port, "/", { "accept-encoding": "gzip;q=0, identity" });
  assert.equal(identity.headers["content-encoding"], undefined, "q=0 refuses the coding");
  const already = await get(port, "/gzipped", { "accept-encoding": "br" });
  assert.equal(already.headers["content-encoding"], "gzip", "an encoded body is not encoded again");
});

test("the decompressor advertises gzip upstream and hands the client the decoded body", async () => {
  seenAcceptEncoding.length = 0;
  const r = await get(p.listeners.get("decompress")!, "/gzipped");
  assert.equal(r.status, 200);
  assert.equal(r.headers["content-encoding"], undefined);
  assert.equal(r.body.toString(), TEXT);
  assert.deepEqual(seenAcceptEncoding, ["gzip"]);
});

test("zstd is refused by name: Node 20's zlib has none", async () => {
  const r = await refusedBootstrap(`static_resources:
  listeners:${listener("z", `
          - name: envoy.filters.http.compressor
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
              compressor_library:
                name: zstd
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd`)}
${ADMIN}`);
  assert.match(r.output, /compressor_library\.typed_config: zstd is not supported: Node\.js 20's node:zlib has no zstd/);
});
