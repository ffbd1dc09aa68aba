// Per-route filter config is compiled with the route table: a bad override refuses the table with its field path
// (the RDS update is NACKed), a good one reaches the filter compiled, and a virtual host's override is compiled once
// and shared by its routes (Envoy's per-route local rate limit bucket is the virtual host's).
import assert from "node:assert/strict";
import { test } from "node:test";
import "./filters/index.js";
import { parseMessage } from "../../xds/resource.js";
import type { RouteConfiguration__Output } from "../../xds/generated/envoy/config/route/v3/RouteConfiguration.js";
import { compileRouteTable } from "./route-table.js";
import { perRouteConfig } from "./per-route-config.js";

const FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
const LRL = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

function table(vh: Record<string, unknown>) {
  const parsed = parseMessage<RouteConfiguration__Output>("envoy.config.route.v3.RouteConfiguration", {
    name: "r", virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/a" }, route: { cluster: "c" } }, { match: { prefix: "/" }, route: { cluster: "c" } }], ...vh }],
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
  return compileRouteTable(parsed.value);
}

test("a fault override arrives compiled; the filter reads it without decoding", () => {
  const t = table({ routes: [{ match: { prefix: "/" }, route: { cluster: "c" }, typed_per_filter_config: { "envoy.filters.http.fault": { "@type": FAULT, abort: { http_status: 503, percentage: { numerator: 100 } } } } }] });
  const route = t.virtualHost("x")!.routes[0];
  const fault = perRouteConfig<{ abortStatus(): number | undefined }>(route, "envoy.filters.http.fault", FAULT);
  assert.equal(fault?.abortStatus(), 503);
  assert.equal(perRouteConfig(route, "envoy.filters.http.fault", LRL), undefined, "another type under the name is not this filter's");
  assert.equal(perRouteConfig(route, "envoy.filters.http.cors", FAULT), undefined);
});

test("a bad override refuses the route table, naming the field path", () => {
  const bad = { routes: [{ match: { prefix: "/" }, route: { cluster: "c" }, typed_per_filter_config: { "envoy.filters.http.local_ratelimit": { "@type": LRL, stat_prefix: "x", response_headers_to_add: [{ header: { key: "bad key", value: "v" } }] } } }] };
  assert.throws(() => table(bad), /virtual_hosts\[0\]\.routes\[0\]\.typed_per_filter_config\["envoy\.filters\.http\.local_ratelimit"\]/);
});

test("a virtual host's override is compiled once, shared by its routes; a route's own wins", () => {
  const lrl = (max: number) => ({ "@type": LRL, stat_prefix: `p${max}`, token_bucket: { max_tokens: max, fill_interval: "60s" } });
  const t = table({
    typed_per_filter_config: { "envoy.filters.http.local_ratelimit": lrl(1) },
    routes: [
      { match: { prefix: "/a" }, route: { cluster: "c" } },
      { match: { prefix: "/b" }, route: { cluster: "c" }, typed_per_filter_config: { "envoy.filters.http.local_ratelimit": lrl(5) } },
      { match: { prefix: "/" }, route: { cluster: "c" } },
    ],
  });
  const [a, b, rest] = t.virtualHost("x")!.routes;
  const get = (r: typeof a) => perRouteConfig<{ prefix: string }>(r, "envoy.filters.http.local_ratelimit", LRL);
  assert.equal(get(a), get(rest), "one compiled limit for the virtual host");
  assert.equal(get(a)?.prefix, "p1");
  assert.equal(get(b)?.prefix, "p5");
});
