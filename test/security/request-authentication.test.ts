// RequestAuthentication end to end without the network: Istio jwtRules -> control's jwt_authn JSON -> validated as
// Envoy's proto -> the proxy's JWT engine, with real RSA and EC keys and signed tokens; then authorization on top.
import assert from "node:assert/strict";
import { type KeyObject, createSign, generateKeyPairSync, sign as edSign } from "node:crypto";
import { test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import { buildJwtFilter, type RequestAuthenticationSpec } from "../../src/control/security/authn-translate.js";
import { buildRbacFilters } from "../../src/control/security/authz-translate.js";
import { compileJwtAuthn, type JwtRequest } from "../../src/proxy/jwt/jwt-authn.js";
import { compileRbac } from "../../src/proxy/rbac/rbac-engine.js";
import { decodeAny, parseMessage } from "../../src/xds/resource.js";
import type { HttpFilter__Output } from "../../src/xds/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { JwtAuthentication__Output } from "../../src/xds/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.js";
import type { RBAC__Output } from "../../src/xds/generated/envoy/extensions/filters/http/rbac/v3/RBAC.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwks = JSON.stringify({ keys: [
  { ...rsa.publicKey.export({ format: "jwk" }), kid: "rsa-1", alg: "RS256", use: "sig" },
  { ...ec.publicKey.export({ format: "jwk" }), kid: "ec-1" },
] });
const ISSUER = "testing@secure.istio.io";
const now = Math.floor(Date.now() / 1000);

function token(claims: Record<string, unknown>, opts: { key?: KeyObject; alg?: string; kid?: string } = {}): string {
  const alg = opts.alg ?? "RS256";
  const head = Buffer.from(JSON.stringify({ alg, kid: opts.kid ?? (alg === "ES256" ? "ec-1" : "rsa-1"), typ: "JWT" })).toString("base64url");
  const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const data = `${head}.${body}`;
  const key = opts.key ?? (alg === "ES256" ? ec.privateKey : rsa.privateKey);
  const sig = alg === "ES256" ? edSign("sha256", Buffer.from(data), { key, dsaEncoding: "ieee-p1363" }) : createSign("RSA-SHA256").update(data).sign(key);
  return `${data}.${sig.toString("base64url")}`;
}

const good = { iss: ISSUER, sub: "testing@secure.istio.io", exp: now + 3600, groups: ["group1"], aud: "bookinfo" };
const workload = { namespace: "default", labels: { app: "productpage" } };

function ra(spec: RequestAuthenticationSpec, name = "jwt-example"): IstioResource<RequestAuthenticationSpec> {
  return { apiVersion: "security.istio.io/v1", kind: "RequestAuthentication", metadata: { name, namespace: "default" }, spec };
}

function compile(policies: Array<IstioResource<RequestAuthenticationSpec>>, fetched: Record<string, string> = {}) {
  const { httpFilter, pendingJwks } = buildJwtFilter(policies, workload, (uri) => fetched[uri]);
  assert.ok(httpFilter);
  const parsed = parseMessage<HttpFilter__Output>("envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter", httpFilter);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
  const config = decodeAny<JwtAuthentication__Output>(parsed.value.typed_config!);
  assert.ok(config.ok);
  return { engine: compileJwtAuthn(config.value), pendingJwks };
}

function req(headers: Record<string, string> = {}, path = "/productpage"): JwtRequest {
  const [p, q] = path.split("?");
  return { method: "GET", path: p, query: q ? new URLSearchParams(q) : undefined, header: (n) => headers[n], cookie: () => undefined };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

test("no token passes; a valid RS256 or ES256 token passes with Istio's request.auth attributes", () => {
  const { engine } = compile([ra({ jwtRules: [{ issuer: ISSUER, jwks }] })]);
  const none = engine.authenticate(req());
  assert.ok(none.ok);
  assert.deepEqual(none.metadata, {});
  for (const alg of ["RS256", "ES256"]) {
    const res = engine.authenticate(req(bearer(token(good, { alg }))));
    assert.ok(res.ok, alg);
    assert.equal(res.metadata.istio_authn["request.auth.principal"], `${ISSUER}/testing@secure.istio.io`);
    assert.deepEqual(res.removeHeaders, ["authorization"], "the token is not forwarded by default");
  }
});

test("bad tokens get 401 with the reason: expired, wrong issuer, tampered, unknown key, wrong audience, alg none", () => {
  const { engine } = compile([ra({ jwtRules: [{ issuer: ISSUER, jwks, audiences: ["bookinfo"] }] })]);
  const reason = (t: string) => { const r = engine.authenticate(req(bearer(t))); return r.ok ? "ok" : `${r.status} ${r.body}`; };
  assert.equal(reason(token({ ...good, exp: now - 3600 })), "401 Jwt is expired");
  assert.equal(reason(token({ ...good, iss: "evil" })), "401 Jwt issuer is not configured");
  const t = token(good);
  assert.equal(reason(t.slice(0, -4) + (t.endsWith("AAAA") ? "BBBB" : "AAAA")), "401 Jwt verification fails");
  assert.match(reason(token(good, { kid: "other" })), /401 Jwks doesn't have key to match kid/);
  assert.equal(reason(token({ ...good, aud: "other" })), "401 Audiences in Jwt are not allowed");
  const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify(good)).toString("base64url")}.`;
  assert.equal(reason(none), "401 Jwt algorithm none is not supported");
  assert.equal(reason(token(good)), "ok");
});

test("fromHeaders, fromParams, outputPayloadToHeader, claims to headers and forwardOriginalToken", () => {
  const { engine } = compile([ra({ jwtRules: [{ issuer: ISSUER, jwks, fromHeaders: [{ name: "x-jwt-assertion" }], fromParams: ["my_token"], outputPayloadToHeader: "x-jwt-payload", outputClaimToHeaders: [{ header: "x-jwt-sub", claim: "sub" }], forwardOriginalToken: true }] })]);
  const viaHeader = engine.authenticate(req({ "x-jwt-assertion": token(good) }));
  assert.ok(viaHeader.ok);
  assert.deepEqual(viaHeader.removeHeaders, []);
  const setHeaders = new Map(viaHeader.setHeaders);
  assert.equal(JSON.parse(Buffer.from(setHeaders.get("x-jwt-payload")!, "base64url").toString()).sub, good.sub);
  assert.equal(setHeaders.get("x-jwt-sub"), good.sub);
  assert.ok(engine.authenticate(req({}, `/productpage?my_token=${token(good)}`)).ok);
  // The default Authorization header is not consulted once fromHeaders is set, so its bad token is ignored.
  assert.ok(engine.authenticate(req({ authorization: "Bearer garbage" })).ok);
});

test("a jwksUri not fetched yet rejects that issuer's tokens and is reported as pending; once fetched, tokens pass", () => {
  const uri = "https://issuer.example/jwks.json";
  const before = compile([ra({ jwtRules: [{ issuer: ISSUER, jwksUri: uri }] })]);
  assert.deepEqual(before.pendingJwks, [uri]);
  assert.equal(before.engine.authenticate(req(bearer(token(good)))).ok, false);
  const after = compile([ra({ jwtRules: [{ issuer: ISSUER, jwksUri: uri }] })], { [uri]: jwks });
  assert.deepEqual(after.pendingJwks, []);
  assert.ok(after.engine.authenticate(req(bearer(token(good)))).ok);
});

test("with authorization on top: requestPrincipals * requires a valid token (Istio's 'require JWT' task)", () => {
  const { engine } = compile([ra({ jwtRules: [{ issuer: ISSUER, jwks }] })]);
  const { httpFilters } = buildRbacFilters([{ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "require-jwt", namespace: "default" },
    spec: { action: "ALLOW", rules: [{ from: [{ source: { requestPrincipals: ["*"] } }], when: [{ key: "request.auth.claims[groups]", values: ["group1"] }] }] } }], workload);
  const rbacConfig = decodeAny<RBAC__Output>((parseMessage<HttpFilter__Output>("envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter", httpFilters[0]) as { value: HttpFilter__Output }).value.typed_config!);
  assert.ok(rbacConfig.ok);
  const rbac = compileRbac(rbacConfig.value.rules!);
  const decide = (headers: Record<string, string>) => {
    const authn = engine.authenticate(req(headers));
    if (!authn.ok) return authn.status;
    const allowed = rbac.evaluate({ header: () => undefined, path: "/productpage", destinationIp: "10.0.0.1", destinationPort: 9080, directRemoteIp: "10.0.0.2", remoteIp: "10.0.0.2", metadata: (f) => authn.metadata[f] }).allowed;
    return allowed ? 200 : 403;
  };
  assert.equal(decide({}), 403, "no token: authenticated as nobody, denied by authorization");
  assert.equal(decide(bearer(token(good))), 200);
  assert.equal(decide(bearer(token({ ...good, groups: ["group2"] }))), 403);
  assert.equal(decide(bearer("not.a.token")), 401);
});
