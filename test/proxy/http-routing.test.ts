// Routing through a real proxy to real upstreams: virtual hosts, matchers, weights, rewrites, headers, redirects.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Backend, echo, get, httpListener, proxy, staticCluster, type TestProxy } from "./harness.js";

let a: Backend, b: Backend, p: TestProxy;

before(async () => {
  a = await echo("a");
  b = await echo("b");
  p = await proxy([httpListener("http", {
    name: "local",
    request_headers_to_add: [{ header: { key: "x-global", value: "g" } }],
    virtual_hosts: [
      { name: "reviews", domains: ["reviews", "reviews:9080", "reviews.default.svc.cluster.local"], routes: [
        { match: { prefix: "/", headers: [{ name: "end-user", string_match: { exact: "jason" } }] }, route: { cluster: "b" } },
        { match: { prefix: "/" }, route: { cluster: "a" } },
      ] },
      { name: "wild", domains: ["*.example.com"], routes: [{ match: { prefix: "/" }, route: { cluster: "b" } }] },
      { name: "default", domains: ["*"], routes: [
        { match: { path: "/exact" }, route: { cluster: "a" }, request_headers_to_add: [{ header: { key: "x-route", value: "exact" } }], request_headers_to_remove: ["x-drop"], response_headers_to_add: [{ header: { key: "x-resp", value: "yes" } }] },
        { match: { safe_regex: { regex: "/items/[0-9]+" } }, route: { cluster: "b" } },
        { match: { prefix: "/q", query_parameters: [{ name: "v", string_match: { exact: "2" } }] }, route: { cluster: "b" } },
        { match: { prefix: "/api/" }, route: { cluster: "a", prefix_rewrite: "/v2/", host_rewrite_literal: "internal.svc" } },
        { match: { prefix: "/re/" }, route: { cluster: "a", regex_rewrite: { pattern: { regex: "^/re/(\\w+)/(\\w+)$" }, substitution: "/\\2/\\1" } } },
        { match: { prefix: "/split" }, route: { weighted_clusters: { clusters: [{ name: "a", weight: 90 }, { name: "b", weight: 10 }] } } },
        { match: { prefix: "/old" }, redirect: { path_redirect: "/new", response_code: "PERMANENT_REDIRECT" } },
        { match: { prefix: "/teapot" }, direct_response: { status: 418, body: { inline_string: "short and stout" } } },
        { match: { prefix: "/CaSe", case_sensitive: false }, route: { cluster: "b" } },
        { match: { prefix: "/" }, route: { cluster: "a" } },
      ] },
    ],
  })], [staticCluster("a", [a.port]), staticCluster("b", [b.port])]);
});

after(async () => {
  await p.stop();
  await a.close();
  await b.close();
});

test("virtual hosts by exact domain (with or without port), by *.suffix, and the * fallback", async () => {
  assert.equal((await get(p.url("/x"), { host: "reviews" })).json().name, "a");
  assert.equal((await get(p.url("/x"), { host: "reviews:9080" })).json().name, "a");
  assert.equal((await get(p.url("/x"), { host: "shop.example.com" })).json().name, "b");
  assert.equal((await get(p.url("/x"), { host: "anything" })).json().name, "a");
});

test("header match sends jason to another cluster (Istio's request routing task)", async () => {
  assert.equal((await get(p.url("/r"), { host: "reviews", "end-user": "jason" })).json().name, "b");
  assert.equal((await get(p.url("/r"), { host: "reviews", "end-user": "alice" })).json().name, "a");
});

test("exact path, regex, query parameter and case-insensitive prefix", async () => {
  assert.equal((await get(p.url("/items/42"))).json().name, "b");
  assert.equal((await get(p.url("/items/x"))).json().name, "a");
  assert.equal((await get(p.url("/q?v=2"))).json().name, "b");
  assert.equal((await get(p.url("/q?v=3"))).json().name, "a");
  assert.equal((await get(p.url("/case/x"))).json().name, "b");
});

test("request headers added at route and config level, removed, and response headers added", async () => {
  const r = await get(p.url("/exact"), { "x-drop": "1" });
  const h = r.json().headers as Record<string, string>;
  assert.equal(h["x-route"], "exact");
  assert.equal(h["x-global"], "g");
  assert.equal(h["x-drop"], undefined);
  assert.ok(h["x-request-id"], "x-request-id is generated");
  assert.equal(r.headers["x-resp"], "yes");
  assert.equal(r.headers.server, "envoy");
  assert.match(String(r.headers["x-envoy-upstream-service-time"] ?? ""), /^\d+$/);
});

test("prefix and regex rewrites, host rewrite", async () => {
  const r = (await get(p.url("/api/users?id=1"))).json();
  assert.equal(r.path, "/v2/users?id=1");
  assert.equal((r.headers as Record<string, string>).host, "internal.svc");
  assert.equal((r.headers as Record<string, string>)["x-envoy-original-path"], "/api/users?id=1");
  assert.equal((await get(p.url("/re/one/two"))).json().path, "/two/one");
});

test("weighted clusters split traffic by weight", async () => {
  let toA = 0;
  for (let i = 0; i < 200; i++) if ((await get(p.url("/split"))).json().name === "a") toA++;
  // 90/10 over 200 requests: the chance of falling outside 150..199 is below one in a million.
  assert.ok(toA >= 150 && toA <= 199, `a got ${toA} of 200`);
});

test("redirects and direct responses are answered by the proxy", async () => {
  const r = await get(p.url("/old?x=1"));
  assert.equal(r.status, 308);
  assert.match(r.headers.location!, /^http:\/\/127\.0\.0\.1:\d+\/new$/);
  const t = await get(p.url("/teapot"));
  assert.equal(t.status, 418);
  assert.equal(t.text, "short and stout");
});

test("no matching route: 404 with the NR flag counted", async () => {
  const q = await proxy([httpListener("nr", { virtual_hosts: [{ name: "only", domains: ["only"], routes: [{ match: { prefix: "/" }, route: { cluster: "a" } }] }] })], [staticCluster("a", [a.port])]);
  try {
    assert.equal((await get(q.url("/"), { host: "other" })).status, 404);
    assert.equal(q.proxy.stats.counter("http.nr.no_route"), 1);
  } finally {
    await q.stop();
  }
});
