// CORS and local rate limiting through a real proxy, configured per route as Istio sends them.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { echo, get, httpListener, proxy, ROUTER, staticCluster, type Backend, type TestProxy } from "./harness.js";

let b: Backend;
let p: TestProxy;
const CORS = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";
const RL = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

before(async () => {
  b = await echo("b");
  p = await proxy([httpListener("l", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [
    { match: { prefix: "/limited" }, route: { cluster: "b" }, typed_per_filter_config: { "envoy.filters.http.local_ratelimit": { "@type": RL, stat_prefix: "rl", token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: "60s" }, filter_enabled: { default_value: { numerator: 100 } }, filter_enforced: { default_value: { numerator: 100 } } } } },
    { match: { prefix: "/" }, route: { cluster: "b" }, typed_per_filter_config: { "envoy.filters.http.cors": { "@type": CORS, allow_origin_string_match: [{ exact: "https://shop.example.com" }], allow_methods: "GET,POST", allow_headers: "x-custom", expose_headers: "x-served-by", max_age: "600", allow_credentials: true } } },
  ] }] }, [
    { name: "envoy.filters.http.cors", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" } },
    { name: "envoy.filters.http.local_ratelimit", typed_config: { "@type": RL, stat_prefix: "rl" } },
    ROUTER,
  ])], [staticCluster("b", [b.port])]);
});

after(async () => {
  await p.stop();
  await b.close();
});

test("a preflight from an allowed origin is answered by the proxy; a simple request gets CORS headers", async () => {
  const pre = await get(p.url("/api"), { origin: "https://shop.example.com", "access-control-request-method": "POST" }, "OPTIONS");
  assert.equal(pre.status, 200);
  assert.equal(pre.headers["access-control-allow-origin"], "https://shop.example.com");
  assert.equal(pre.headers["access-control-allow-methods"], "GET,POST");
  assert.equal(pre.headers["access-control-max-age"], "600");
  const hits = b.hits;
  const simple = await get(p.url("/api"), { origin: "https://shop.example.com" });
  assert.equal(simple.headers["access-control-allow-origin"], "https://shop.example.com");
  assert.equal(simple.headers["access-control-allow-credentials"], "true");
  assert.equal(b.hits, hits + 1);
  const other = await get(p.url("/api"), { origin: "https://evil.example" });
  assert.equal(other.headers["access-control-allow-origin"], undefined);
});

test("the local rate limit lets max_tokens through and answers 429 after", async () => {
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await get(p.url("/limited"))).status);
  assert.deepEqual(statuses, [200, 200, 429, 429]);
  assert.equal(p.proxy.stats.counter("rl.http_local_rate_limit.enforced"), 2);
  assert.equal((await get(p.url("/other"))).status, 200, "other routes are not limited");
});
