// Istio's webhook decisions, one case per rule: the trigger (refused, or accepted with a warning) and its near miss
// (accepted clean). Written from what istio/istio pkg/config/validation establishes, not copied from its tables.
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateResource } from "../../src/api/analyze.js";
import { parseDocuments } from "../../src/api/load.js";

interface Case {
  rule: string;
  kind: string;
  /** The spec, as YAML indented by two spaces. */
  bad: string;
  near: string;
  /** The code the trigger gets (an Error refuses the write; TRL0021 is a warning). */
  code: string;
}

const API: Record<string, string> = { DestinationRule: "networking.istio.io/v1", AuthorizationPolicy: "security.istio.io/v1", VirtualService: "networking.istio.io/v1", Gateway: "networking.istio.io/v1", Sidecar: "networking.istio.io/v1", RequestAuthentication: "security.istio.io/v1", PeerAuthentication: "security.istio.io/v1", WorkloadEntry: "networking.istio.io/v1", ServiceEntry: "networking.istio.io/v1" };

export function check(kind: string, spec: string): Array<{ code: string; level: string; message: string }> {
  const text = `apiVersion: ${API[kind]}\nkind: ${kind}\nmetadata: {name: case, namespace: shop}\nspec:\n${spec}`;
  const loaded = parseDocuments(text, "case.yaml");
  assert.deepEqual(loaded.findings, [], "the case must load");
  return validateResource(loaded.resources[0]).map((f) => ({ code: f.code, level: f.level, message: f.message }));
}

const dr = (tp: string) => `  host: reviews\n  trafficPolicy:\n${tp}`;
const CASES: Case[] = [
  // DestinationRule
  { rule: "maxEjectionPercent above 100", kind: "DestinationRule", bad: dr("    outlierDetection: {maxEjectionPercent: 105}"), near: dr("    outlierDetection: {maxEjectionPercent: 100}"), code: "TRL0020" },
  { rule: "minHealthPercent above 100", kind: "DestinationRule", bad: dr("    outlierDetection: {minHealthPercent: 101}"), near: dr("    outlierDetection: {minHealthPercent: 0}"), code: "TRL0020" },
  { rule: "sub-millisecond duration", kind: "DestinationRule", bad: dr("    outlierDetection: {interval: 500us}"), near: dr("    outlierDetection: {interval: 1ms}"), code: "TRL0014" },
  { rule: "duration finer than a millisecond", kind: "DestinationRule", bad: dr("    connectionPool: {tcp: {connectTimeout: 1500us}}"), near: dr("    connectionPool: {tcp: {connectTimeout: 2000us}}"), code: "TRL0014" },
  { rule: "tcp idleTimeout 0s disables it", kind: "DestinationRule", bad: dr("    connectionPool: {tcp: {idleTimeout: 100us}}"), near: dr("    connectionPool: {tcp: {idleTimeout: 0s}}"), code: "TRL0014" },
  { rule: "Maglev table size not prime", kind: "DestinationRule", bad: dr("    loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 65536}}}"), near: dr("    loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 65537}}}"), code: "TRL0020" },
  { rule: "Maglev table size too large", kind: "DestinationRule", bad: dr("    loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 5000011}}}"), near: dr("    loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 131071}}}"), code: "TRL0020" },
  { rule: "empty traffic policy", kind: "DestinationRule", bad: dr("    {}"), near: dr("    tls: {mode: ISTIO_MUTUAL}"), code: "TRL0012" },
  { rule: "empty connection pool", kind: "DestinationRule", bad: dr("    connectionPool: {}"), near: dr("    connectionPool: {tcp: {maxConnections: 10}}"), code: "TRL0020" },
  { rule: "negative pool limit", kind: "DestinationRule", bad: dr("    connectionPool: {http: {http2MaxRequests: -1}}"), near: dr("    connectionPool: {http: {http2MaxRequests: 0}}"), code: "TRL0020" },
  { rule: "UPGRADE with useClientProtocol", kind: "DestinationRule", bad: dr("    connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}"), near: dr("    connectionPool: {http: {h2UpgradePolicy: DEFAULT, useClientProtocol: true}}"), code: "TRL0019" },
  { rule: "local-origin failures without the split", kind: "DestinationRule", bad: dr("    outlierDetection: {consecutiveLocalOriginFailures: 5}"), near: dr("    outlierDetection: {consecutiveLocalOriginFailures: 5, splitExternalLocalOriginErrors: true}"), code: "TRL0019" },
  { rule: "hash cookie without a name", kind: "DestinationRule", bad: dr("    loadBalancer: {consistentHash: {httpCookie: {ttl: 10s}}}"), near: dr("    loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 10s}}}"), code: "TRL0012" },
  { rule: "deprecated consecutiveErrors warns", kind: "DestinationRule", bad: dr("    outlierDetection: {consecutiveErrors: 5}"), near: dr("    outlierDetection: {consecutive5xxErrors: 5}"), code: "TRL0021" },
  { rule: "MUTUAL TLS without client certificate", kind: "DestinationRule", bad: dr("    tls: {mode: MUTUAL, privateKey: /k.pem}"), near: dr("    tls: {mode: MUTUAL, credentialName: client-cert}"), code: "TRL0012" },
  { rule: "credentialName with inline certificates", kind: "DestinationRule", bad: dr("    tls: {mode: SIMPLE, credentialName: c, caCertificates: /ca.pem}"), near: dr("    tls: {mode: SIMPLE, credentialName: c}"), code: "TRL0019" },
  { rule: "insecureSkipVerify with a CA", kind: "DestinationRule", bad: dr("    tls: {mode: SIMPLE, insecureSkipVerify: true, caCertificates: /ca.pem}"), near: dr("    tls: {mode: SIMPLE, insecureSkipVerify: true}"), code: "TRL0019" },
  { rule: "port-level policy with only a port", kind: "DestinationRule", bad: dr("    portLevelSettings:\n    - port: {number: 80}"), near: dr("    portLevelSettings:\n    - port: {number: 80}\n      tls: {mode: DISABLE}"), code: "TRL0012" },
  { rule: "subset name not a DNS label", kind: "DestinationRule", bad: "  host: reviews\n  subsets:\n  - {name: V1_old, labels: {version: v1}}", near: "  host: reviews\n  subsets:\n  - {name: v1-old, labels: {version: v1}}", code: "TRL0020" },
  { rule: "exportTo * with others", kind: "DestinationRule", bad: "  host: reviews\n  exportTo: [\"*\", prod]", near: "  host: reviews\n  exportTo: [\"*\"]", code: "TRL0020" },
  { rule: "exportTo . and own namespace", kind: "DestinationRule", bad: "  host: reviews\n  exportTo: [\".\", shop]", near: "  host: reviews\n  exportTo: [\".\", prod]", code: "TRL0020" },
  { rule: "exportTo ~ outside a ServiceEntry", kind: "DestinationRule", bad: "  host: reviews\n  exportTo: [\"~\"]", near: "  host: reviews\n  exportTo: [\".\"]", code: "TRL0020" },
  { rule: "tunnel protocol", kind: "DestinationRule", bad: dr("    tunnel: {protocol: GET, targetHost: egress.example.com, targetPort: 443}"), near: dr("    tunnel: {protocol: POST, targetHost: egress.example.com, targetPort: 443}"), code: "TRL0020" },
  // AuthorizationPolicy
  { rule: "from: [{}]", kind: "AuthorizationPolicy", bad: "  rules:\n  - from: [{}]", near: "  rules:\n  - from: [{source: {namespaces: [shop]}}]", code: "TRL0012" },
  { rule: "empty source", kind: "AuthorizationPolicy", bad: "  rules:\n  - from: [{source: {}}]", near: "  rules:\n  - from: [{source: {principals: [\"*\"]}}]", code: "TRL0012" },
  { rule: "empty from list", kind: "AuthorizationPolicy", bad: "  rules:\n  - from: []", near: "  rules:\n  - {}", code: "TRL0012" },
  { rule: "to: [{}]", kind: "AuthorizationPolicy", bad: "  rules:\n  - to: [{}]", near: "  rules:\n  - to: [{operation: {methods: [GET]}}]", code: "TRL0012" },
  { rule: "CUSTOM without provider", kind: "AuthorizationPolicy", bad: "  action: CUSTOM\n  rules:\n  - {}", near: "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - {}", code: "TRL0012" },
  { rule: "CUSTOM without rules", kind: "AuthorizationPolicy", bad: "  action: CUSTOM\n  provider: {name: ext-authz}", near: "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules: [{}]", code: "TRL0012" },
  { rule: "CUSTOM matching principals", kind: "AuthorizationPolicy", bad: "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - from: [{source: {principals: [a]}}]", near: "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - from: [{source: {ipBlocks: [10.0.0.0/8]}}]", code: "TRL0020" },
  { rule: "provider on ALLOW", kind: "AuthorizationPolicy", bad: "  provider: {name: ext-authz}\n  rules: [{}]", near: "  rules: [{}]", code: "TRL0019" },
  { rule: "DENY without rules", kind: "AuthorizationPolicy", bad: "  action: DENY", near: "  action: DENY\n  rules:\n  - to: [{operation: {ports: [\"8080\"]}}]", code: "TRL0012" },
  { rule: "DENY with only HTTP attributes warns", kind: "AuthorizationPolicy", bad: "  action: DENY\n  rules:\n  - to: [{operation: {methods: [POST]}}]", near: "  action: DENY\n  rules:\n  - to: [{operation: {methods: [POST], ports: [\"8080\"]}}]", code: "TRL0021" },
  { rule: "serviceAccounts with namespaces", kind: "AuthorizationPolicy", bad: "  rules:\n  - from: [{source: {namespaces: [shop], serviceAccounts: [shop/web]}}]", near: "  rules:\n  - from: [{source: {serviceAccounts: [shop/web, web]}}]", code: "TRL0019" },
  { rule: "empty value", kind: "AuthorizationPolicy", bad: "  rules:\n  - to: [{operation: {paths: [\"\"]}}]", near: "  rules:\n  - to: [{operation: {paths: [/api]}}]", code: "TRL0020" },
  { rule: "condition without values", kind: "AuthorizationPolicy", bad: "  rules:\n  - when: [{key: \"request.headers[x-user]\"}]", near: "  rules:\n  - when: [{key: \"request.headers[x-user]\", notValues: [guest]}]", code: "TRL0012" },
  { rule: "selector with targetRefs", kind: "AuthorizationPolicy", bad: "  selector: {matchLabels: {app: web}}\n  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]", near: "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]", code: "TRL0019" },
];

for (const c of CASES) {
  test(`${c.kind}: ${c.rule}`, () => {
    const bad = check(c.kind, c.bad);
    assert.ok(bad.some((f) => f.code === c.code), `expected ${c.code}, got ${JSON.stringify(bad, null, 1)}`);
    const near = check(c.kind, c.near);
    assert.deepEqual(near, [], "the near miss is accepted clean");
  });
}

test("a warning alone does not refuse: the webhook accepts the resource", () => {
  const found = check("DestinationRule", dr("    outlierDetection: {consecutiveErrors: 5}"));
  assert.ok(found.every((f) => f.level === "Warning"));
});

const vsRoute = "  - route: [{destination: {host: reviews}}]";
const VS_CASES: Case[] = [
  { rule: "mesh VirtualService for *", kind: "VirtualService", bad: `  hosts: ["*"]\n  http:\n${vsRoute}`, near: `  hosts: ["*"]\n  gateways: [shop/ingress]\n  http:\n${vsRoute}`, code: "TRL0015" },
  { rule: "overlapping hosts", kind: "VirtualService", bad: `  hosts: ["*.example.com", a.example.com]\n  http:\n${vsRoute}`, near: `  hosts: ["*.example.com", a.example.org]\n  http:\n${vsRoute}`, code: "TRL0015" },
  { rule: "no routes at all", kind: "VirtualService", bad: "  hosts: [reviews]", near: `  hosts: [reviews]\n  http:\n${vsRoute}`, code: "TRL0012" },
  { rule: "delegate with gateways", kind: "VirtualService", bad: `  gateways: [shop/ingress]\n  http:\n${vsRoute}`, near: `  http:\n${vsRoute}`, code: "TRL0019" },
  { rule: "route and redirect together", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - redirect: {uri: /new}\n    route: [{destination: {host: reviews}}]", near: "  hosts: [reviews]\n  http:\n  - redirect: {uri: /new}", code: "TRL0019" },
  { rule: "http rule without an action", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - timeout: 5s", near: "  hosts: [reviews]\n  http:\n  - timeout: 5s\n    directResponse: {status: 503}", code: "TRL0012" },
  { rule: "mirror and mirrors", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n    mirror: {host: ratings}\n    mirrors: [{destination: {host: ratings}}]", near: "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n    mirrors: [{destination: {host: ratings}}]", code: "TRL0019" },
  { rule: "mirrorPercentage above 100", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n    mirror: {host: ratings}\n    mirrorPercentage: {value: 150}", near: "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n    mirror: {host: ratings}\n    mirrorPercentage: {value: 50}", code: "TRL0020" },
  { rule: "sub-millisecond timeout", kind: "VirtualService", bad: `  hosts: [reviews]\n  http:\n${vsRoute}\n    timeout: 0.5ms`, near: `  hosts: [reviews]\n  http:\n${vsRoute}\n    timeout: 1ms`, code: "TRL0014" },
  { rule: "fault percentage above 100", kind: "VirtualService", bad: `  hosts: [reviews]\n  http:\n${vsRoute}\n    fault: {abort: {httpStatus: 500, percentage: {value: 101}}}`, near: `  hosts: [reviews]\n  http:\n${vsRoute}\n    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}`, code: "TRL0020" },
  { rule: "JWT claim routing on the mesh", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - match: [{headers: {\"@request.auth.claims.group\": {exact: admin}}}]\n    route: [{destination: {host: reviews}}]", near: "  hosts: [reviews.example.com]\n  gateways: [shop/ingress]\n  http:\n  - match: [{headers: {\"@request.auth.claims.group\": {exact: admin}}}]\n    route: [{destination: {host: reviews}}]", code: "TRL0020" },
  { rule: "rule after a match-all rule (IST0130)", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: ratings}}]", near: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: ratings}}]\n  - route: [{destination: {host: reviews}}]", code: "TRL1018" },
  { rule: "prefix taken by a shorter earlier prefix (IST0131)", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /api/v1/product}, method: {exact: GET}}]\n    route: [{destination: {host: ratings}}]\n  - match: [{uri: {prefix: /api/v1/products}, method: {exact: GET}}]\n    route: [{destination: {host: reviews}}]", near: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /api/v1/products}, method: {exact: GET}}]\n    route: [{destination: {host: reviews}}]\n  - match: [{uri: {prefix: /api/v1/product}, method: {exact: GET}}]\n    route: [{destination: {host: ratings}}]", code: "TRL1019" },
  { rule: "prefix with no method covers GET (IST0131)", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /api/v1/product}}, {uri: {prefix: /api/v1/products}, method: {exact: GET}}]\n    route: [{destination: {host: ratings}}]", near: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /api/v1/product}}, {uri: {prefix: /api/v1/products}, method: {exact: POST}}]\n    route: [{destination: {host: ratings}}]", code: "TRL1019" },
  { rule: "prefix covered only with the same headers (IST0131)", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}, headers: {end-user: {prefix: j}}}]\n    route: [{destination: {host: ratings}}]\n  - match: [{uri: {prefix: /ab}, headers: {end-user: {exact: jason}}}]\n    route: [{destination: {host: reviews}}]", near: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}, headers: {end-user: {exact: jason}}}]\n    route: [{destination: {host: ratings}}]\n  - match: [{uri: {prefix: /ab}, headers: {end-user: {prefix: j}}}]\n    route: [{destination: {host: reviews}}]", code: "TRL1019" },
  { rule: "match already taken (IST0131)", kind: "VirtualService", bad: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: ratings}}]\n  - match: [{uri: {prefix: /a}}, {uri: {prefix: /b}}]\n    route: [{destination: {host: reviews}}]", near: "  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: ratings}}]\n  - match: [{uri: {prefix: /b}}]\n    route: [{destination: {host: reviews}}]", code: "TRL1019" },
];

for (const c of VS_CASES) {
  test(`${c.kind}: ${c.rule}`, () => {
    const bad = check(c.kind, c.bad);
    assert.ok(bad.some((f) => f.code === c.code), `expected ${c.code}, got ${JSON.stringify(bad, null, 1)}`);
    assert.deepEqual(check(c.kind, c.near), [], "the near miss is accepted clean");
  });
}

const server = (extra: string, protocol = "HTTP", port = 80) => `  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: ${port}, name: p${port}, protocol: ${protocol}}\n    hosts: [shop.example.com]\n${extra}`;
const MORE_CASES: Case[] = [
  // Gateway
  { rule: "no servers", kind: "Gateway", bad: "  selector: {istio: ingressgateway}\n  servers: []", near: server(""), code: "TRL0012" },
  { rule: "HTTPS without tls", kind: "Gateway", bad: server("", "HTTPS", 443), near: server("    tls: {mode: SIMPLE, credentialName: shop-cert}", "HTTPS", 443), code: "TRL0012" },
  { rule: "TLS settings on plain HTTP", kind: "Gateway", bad: server("    tls: {mode: SIMPLE, credentialName: shop-cert}"), near: server("    tls: {httpsRedirect: true}"), code: "TRL0019" },
  { rule: "MUTUAL without client CA", kind: "Gateway", bad: server("    tls: {mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem}", "HTTPS", 443), near: server("    tls: {mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem}", "HTTPS", 443), code: "TRL0012" },
  { rule: "two certificate sources", kind: "Gateway", bad: server("    tls: {mode: SIMPLE, credentialName: c, serverCertificate: /c.pem, privateKey: /k.pem}", "HTTPS", 443), near: server("    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}", "HTTPS", 443), code: "TRL0019" },
  { rule: "ISTIO_MUTUAL with a certificate", kind: "Gateway", bad: server("    tls: {mode: ISTIO_MUTUAL, credentialName: c}", "TLS", 15443), near: server("    tls: {mode: ISTIO_MUTUAL}", "TLS", 15443), code: "TRL0019" },
  { rule: "duplicate port names", kind: "Gateway", bad: `${server("")}\n  - port: {number: 8080, name: p80, protocol: HTTP}\n    hosts: [blog.example.com]`, near: `${server("")}\n  - port: {number: 8080, name: p8080, protocol: HTTP}\n    hosts: [blog.example.com]`, code: "TRL0020" },
  { rule: "unknown protocol", kind: "Gateway", bad: server("", "HTTP3"), near: server("", "HTTP2"), code: "TRL0020" },
  // Sidecar
  { rule: "empty Sidecar", kind: "Sidecar", bad: "  workloadSelector: {labels: {app: web}}", near: "  workloadSelector: {labels: {app: web}}\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}", code: "TRL0012" },
  { rule: "catch-all egress not last", kind: "Sidecar", bad: "  egress:\n  - hosts: [\"./*\"]\n  - port: {number: 9080, name: http, protocol: HTTP}\n    hosts: [\"./*\"]", near: "  egress:\n  - port: {number: 9080, name: http, protocol: HTTP}\n    hosts: [\"./*\"]\n  - hosts: [\"./*\"]", code: "TRL0020" },
  { rule: "egress without hosts", kind: "Sidecar", bad: "  egress:\n  - port: {number: 9080, name: http, protocol: HTTP}\n    hosts: []", near: "  egress:\n  - port: {number: 9080, name: http, protocol: HTTP}\n    hosts: [\"istio-system/*\"]", code: "TRL0012" },
  { rule: "ingress default endpoint not local", kind: "Sidecar", bad: "  ingress:\n  - port: {number: 9080, name: http, protocol: HTTP}\n    defaultEndpoint: 10.0.0.1:8080", near: "  ingress:\n  - port: {number: 9080, name: http, protocol: HTTP}\n    defaultEndpoint: 127.0.0.1:8080", code: "TRL0020" },
  { rule: "duplicate ingress ports", kind: "Sidecar", bad: "  ingress:\n  - port: {number: 9080, name: a, protocol: HTTP}\n    defaultEndpoint: 127.0.0.1:8080\n  - port: {number: 9080, name: b, protocol: HTTP}\n    defaultEndpoint: 127.0.0.1:8081", near: "  ingress:\n  - port: {number: 9080, name: a, protocol: HTTP}\n    defaultEndpoint: 127.0.0.1:8080\n  - port: {number: 9081, name: b, protocol: HTTP}\n    defaultEndpoint: 127.0.0.1:8081", code: "TRL0020" },
  // PeerAuthentication, RequestAuthentication
  { rule: "port-level mTLS without a selector", kind: "PeerAuthentication", bad: "  mtls: {mode: STRICT}\n  portLevelMtls: {\"8080\": {mode: DISABLE}}", near: "  selector: {matchLabels: {app: web}}\n  mtls: {mode: STRICT}\n  portLevelMtls: {\"8080\": {mode: DISABLE}}", code: "TRL0019" },
  { rule: "JWT rule without issuer or jwksUri", kind: "RequestAuthentication", bad: "  jwtRules:\n  - audiences: [shop]", near: "  jwtRules:\n  - jwksUri: https://issuer.example.com/jwks\n    audiences: [shop]", code: "TRL0012" },
  { rule: "jwks that is not JSON", kind: "RequestAuthentication", bad: "  jwtRules:\n  - issuer: https://issuer.example.com\n    jwks: \"{keys: [\"", near: "  jwtRules:\n  - issuer: https://issuer.example.com\n    jwks: '{\"keys\": []}'", code: "TRL0020" },
  { rule: "output header not a header name", kind: "RequestAuthentication", bad: "  jwtRules:\n  - issuer: https://issuer.example.com\n    outputClaimToHeaders: [{header: \"x user\", claim: sub}]", near: "  jwtRules:\n  - issuer: https://issuer.example.com\n    outputClaimToHeaders: [{header: x-user, claim: sub}]", code: "TRL0020" },
];

for (const c of MORE_CASES) {
  test(`${c.kind}: ${c.rule}`, () => {
    const bad = check(c.kind, c.bad);
    assert.ok(bad.some((f) => f.code === c.code), `expected ${c.code}, got ${JSON.stringify(bad, null, 1)}`);
    assert.deepEqual(check(c.kind, c.near), [], "the near miss is accepted clean");
  });
}

test("ServiceEntry exportTo: \"~\" is allowed alone, not beside others", () => {
  const se = (exportTo: string) => `  hosts: [api.example.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DNS\n  exportTo: ${exportTo}`;
  assert.deepEqual(check("ServiceEntry", se("[\"~\"]")), []);
  assert.ok(check("ServiceEntry", se("[\"~\", prod]")).some((f) => f.code === "TRL0020"));
});
