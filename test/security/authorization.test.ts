// AuthorizationPolicy end to end without the network: Istio policy -> control's Envoy RBAC JSON -> validated as
// Envoy's proto -> compiled by the proxy's RBAC engine -> decisions on requests, for Istio's documented cases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildRbacFilters, type AuthorizationPolicySpec } from "../../src/control/security/authz-translate.js";
import { compileRbac, unsupportedRule, type RbacRequest } from "../../src/proxy/rbac/rbac-engine.js";
import type { IstioResource } from "../../src/api/resource.js";
import { decodeAny } from "../../src/xds/resource.js";
import { parseMessage } from "../../src/xds/resource.js";
import type { HttpFilter__Output } from "../../src/xds/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { RBAC__Output } from "../../src/xds/generated/envoy/extensions/filters/http/rbac/v3/RBAC.js";

const reviews = { namespace: "default", labels: { app: "reviews", version: "v1" } };

function policy(name: string, spec: AuthorizationPolicySpec, namespace = "default"): IstioResource<AuthorizationPolicySpec> {
  return { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name, namespace }, spec };
}

interface Req {
  method?: string; path?: string; host?: string; headers?: Record<string, string>;
  principal?: string; ip?: string; remoteIp?: string; port?: number; claims?: Record<string, unknown>;
}

function request(r: Req): RbacRequest {
  const headers: Record<string, string> = { ":method": r.method ?? "GET", ":path": r.path ?? "/", ":authority": r.host ?? "reviews:9080", ...(r.headers ?? {}) };
  return {
    header: (n) => headers[n],
    path: (r.path ?? "/").split("?")[0],
    destinationIp: "10.0.0.5",
    destinationPort: r.port ?? 9080,
    directRemoteIp: r.ip ?? "10.0.0.9",
    remoteIp: r.remoteIp ?? r.ip ?? "10.0.0.9",
    principal: r.principal,
    metadata: (f) => (f === "istio_authn" && r.claims ? { "request.auth.claims": r.claims, "request.auth.principal": `${r.claims.iss}/${r.claims.sub}` } : undefined),
  };
}

/** The translated filters, each parsed as Envoy would parse it, then compiled; a request passes when every filter allows. */
function enforce(policies: Array<IstioResource<AuthorizationPolicySpec>>, workload = reviews) {
  const { httpFilters, skipped } = buildRbacFilters(policies, workload);
  const compiled = httpFilters.map((f, i) => {
    const parsed = parseMessage<HttpFilter__Output>("envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter", f, `http_filters[${i}]`);
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
    const rbac = decodeAny<RBAC__Output>(parsed.value.typed_config!);
    assert.ok(rbac.ok);
    const rules = rbac.value.rules ?? rbac.value.shadow_rules!;
    assert.equal(unsupportedRule(rules), undefined);
    return { shadow: !rbac.value.rules, rbac: compileRbac(rules) };
  });
  return {
    filters: httpFilters.length,
    skipped,
    allows: (r: Req) => compiled.every((c) => c.shadow || c.rbac.evaluate(request(r)).allowed),
  };
}

const productpage = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage";
const ratings = "spiffe://cluster.local/ns/default/sa/bookinfo-ratings";

test("no policy: no filter, everything allowed", () => {
  const e = enforce([]);
  assert.equal(e.filters, 0);
  assert.ok(e.allows({ method: "DELETE" }));
});

test("allow-nothing: an ALLOW policy without rules denies every request", () => {
  const e = enforce([policy("allow-nothing", {})]);
  assert.equal(e.allows({ principal: productpage }), false);
});

test("ALLOW by principal, method and path prefix (Istio's HTTP traffic task)", () => {
  const e = enforce([policy("reviews-viewer", {
    selector: { matchLabels: { app: "reviews" } },
    action: "ALLOW",
    rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/bookinfo-productpage"] } }], to: [{ operation: { methods: ["GET"], paths: ["/reviews*"] } }] }],
  })]);
  assert.ok(e.allows({ principal: productpage, path: "/reviews/0" }));
  assert.equal(e.allows({ principal: productpage, method: "POST", path: "/reviews/0" }), false);
  assert.equal(e.allows({ principal: ratings, path: "/reviews/0" }), false);
  assert.equal(e.allows({ path: "/reviews/0" }), false, "plaintext (no principal) is not productpage");
  assert.equal(e.allows({ principal: productpage, path: "/health" }), false);
});

test("a policy for other workloads or another namespace does not apply; the root namespace's applies mesh-wide", () => {
  assert.ok(enforce([policy("x", {}, "other")]).allows({}));
  assert.ok(enforce([policy("x", { selector: { matchLabels: { app: "ratings" } } })]).allows({}));
  assert.equal(enforce([policy("mesh", {}, "istio-system")]).allows({}), false);
});

test("DENY by source namespace, with notMethods, and DENY wins over ALLOW", () => {
  const e = enforce([
    policy("deny-foo", { action: "DENY", rules: [{ from: [{ source: { namespaces: ["foo"] } }], to: [{ operation: { notMethods: ["GET"] } }] }] }),
    policy("allow-all", { action: "ALLOW", rules: [{}] }),
  ]);
  assert.equal(e.allows({ principal: "spiffe://cluster.local/ns/foo/sa/x", method: "POST" }), false);
  assert.ok(e.allows({ principal: "spiffe://cluster.local/ns/foo/sa/x", method: "GET" }));
  assert.ok(e.allows({ principal: "spiffe://cluster.local/ns/foofoo/sa/x", method: "POST" }), "namespace match is exact, not a prefix");
});

test("when: request headers, source IP blocks and remote IP blocks", () => {
  const e = enforce([policy("conds", {
    rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/24"] } }], when: [{ key: "request.headers[version]", values: ["v1", "v2"] }] }],
  })]);
  assert.ok(e.allows({ headers: { version: "v2" } }));
  assert.equal(e.allows({ headers: { version: "v3" } }), false);
  assert.equal(e.allows({ headers: { version: "v1" }, ip: "192.168.1.1" }), false);
  const remote = enforce([policy("remote", { action: "DENY", rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }] }] })]);
  assert.equal(remote.allows({ remoteIp: "203.0.113.7" }), false);
  assert.ok(remote.allows({ remoteIp: "198.51.100.7" }));
});

test("hosts match with or without a port and ignore case; ports and wildcard paths", () => {
  const e = enforce([policy("hosts", { rules: [{ to: [{ operation: { hosts: ["Reviews.default.svc.cluster.local"], ports: ["9080"], paths: ["*.json"] } }] }] })]);
  assert.ok(e.allows({ host: "reviews.default.svc.cluster.local:9080", path: "/a.json" }));
  assert.ok(e.allows({ host: "reviews.default.svc.cluster.local", path: "/a.json" }));
  assert.equal(e.allows({ host: "reviews.default.svc.cluster.local.evil", path: "/a.json" }), false);
  assert.equal(e.allows({ host: "reviews.default.svc.cluster.local", path: "/a.json", port: 9081 }), false);
  assert.equal(e.allows({ host: "reviews.default.svc.cluster.local", path: "/a.html" }), false);
});

test("JWT claims and request principals from the authn metadata", () => {
  const e = enforce([policy("jwt", { rules: [{ from: [{ source: { requestPrincipals: ["testing@secure.istio.io/*"] } }], when: [{ key: "request.auth.claims[groups]", values: ["group1"] }] }] })]);
  assert.ok(e.allows({ claims: { iss: "testing@secure.istio.io", sub: "u1", groups: ["group1", "group2"] } }));
  assert.equal(e.allows({ claims: { iss: "testing@secure.istio.io", sub: "u1", groups: ["group2"] } }), false);
  assert.equal(e.allows({}), false);
});

test("AUDIT becomes a shadow LOG filter that never denies", () => {
  const e = enforce([policy("audit", { action: "AUDIT", rules: [{ to: [{ operation: { methods: ["POST"] } }] }] })]);
  assert.equal(e.filters, 1);
  assert.ok(e.allows({ method: "POST" }));
});

test("a CUSTOM policy (no ext_authz provider known) fails closed: what it matches is denied, the rest allowed", () => {
  const e = enforce([policy("ext", { action: "CUSTOM", provider: { name: "opa" }, rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] })]);
  assert.equal(e.allows({ path: "/admin/users" }), false);
  assert.equal(e.allows({ path: "/reviews/1" }), true);
  assert.match(e.skipped[0].reason, /provider "opa" is not among the mesh config.s extensionProviders \(none\): the requests it matches are denied/);
});

test("an untranslatable DENY fails closed and is reported; CUSTOM is reported as unsupported", () => {
  const e = enforce([
    policy("bad", { action: "DENY", rules: [{ when: [{ key: "experimental.unknown", values: ["x"] }] }] }),
    policy("ext", { action: "CUSTOM", provider: { name: "opa" }, rules: [{}] }),
  ]);
  assert.equal(e.allows({}), false);
  assert.deepEqual(e.skipped.map((s) => s.policy), ["default/bad", "default/ext"]);
  assert.match(e.skipped[0].reason, /when.key "experimental.unknown" is not supported/);
});
