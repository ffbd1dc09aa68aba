// The Gateway API's kinds: loaded, validated against their schema, told apart from Istio's Gateway, never skipped
// silently, and counted as gateways a VirtualService may bind to.
import assert from "node:assert/strict";
import { test } from "node:test";
import { findKind, kindFor } from "../../src/api/kinds.js";
import { parseDocuments } from "../../src/api/load.js";
import type { Finding } from "../../src/api/finding.js";
import { findingsFor } from "./fixtures.js";

const codes = (list: Finding[]) => list.map((f) => f.code);

const GW = "gateway.networking.k8s.io";
const doc = (apiVersion: string, kind: string, name: string, spec: string, namespace = "default") =>
  `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec}`;

const gateway = doc(`${GW}/v1`, "Gateway", "web", "  gatewayClassName: trellis\n  listeners:\n  - {name: http, port: 80, protocol: HTTP, hostname: \"*.example.com\"}");
const VALID = [
  doc(`${GW}/v1`, "GatewayClass", "trellis", "  controllerName: trellis.dev/gateway-controller"),
  gateway,
  doc(`${GW}/v1`, "HTTPRoute", "reviews", "  parentRefs: [{name: web, sectionName: http}]\n  hostnames: [reviews.example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /api}}]\n    backendRefs: [{name: reviews, port: 9080, weight: 90}, {name: ratings, port: 9080, weight: 10}]\n    timeouts: {request: 10s}"),
  doc(`${GW}/v1`, "GRPCRoute", "echo", "  parentRefs: [{name: web}]\n  rules:\n  - matches: [{method: {service: echo.Echo, method: Say}}]\n    backendRefs: [{name: echo, port: 7070}]"),
  doc(`${GW}/v1beta1`, "ReferenceGrant", "allow", "  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]\n  to: [{group: \"\", kind: Service}]", "backend"),
  doc(`${GW}/v1alpha2`, "TLSRoute", "tls", "  parentRefs: [{name: web}]\n  hostnames: [db.example.com]\n  rules: [{backendRefs: [{name: db, port: 5432}]}]"),
  doc(`${GW}/v1alpha2`, "TCPRoute", "tcp", "  parentRefs: [{name: web}]\n  rules: [{backendRefs: [{name: db, port: 5432}]}]"),
];

test("every Gateway API kind loads at its served versions and a valid one has no finding", () => {
  const loaded = parseDocuments(VALID.join("\n---\n"), "gw.yaml");
  assert.deepEqual(loaded.findings, []);
  assert.deepEqual(loaded.resources.map((r) => r.kind), ["GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "TLSRoute", "TCPRoute"]);
  assert.deepEqual(findingsFor(VALID.join("\n---\n"), false), []);
});

test("schema problems in Gateway API kinds are reported with their field, and their near misses are not", () => {
  const route = (rules: string) => doc(`${GW}/v1`, "HTTPRoute", "r", `  parentRefs: [{name: web}]\n  rules:\n${rules}`);
  assert.deepEqual(codes(findingsFor(route("  - backendRef: [{name: a, port: 80}]"), false)), ["TRL0010"]);
  assert.deepEqual(codes(findingsFor(route("  - backendRefs: [{name: a, port: 80}]"), false)), []);
  assert.deepEqual(codes(findingsFor(route("  - matches: [{path: {type: Prefix, value: /}}]"), false)), ["TRL0013"]);
  assert.deepEqual(codes(findingsFor(route("  - matches: [{path: {type: PathPrefix, value: /}}]"), false)), []);
  const listener = (port: string) => doc(`${GW}/v1`, "Gateway", "g", `  gatewayClassName: c\n  listeners: [{name: http, port: ${port}, protocol: HTTP}]`);
  assert.deepEqual(codes(findingsFor(listener("70000"), false)), ["TRL0020"]);
  assert.deepEqual(codes(findingsFor(listener("8080"), false)), []);
  const noClass = doc(`${GW}/v1`, "Gateway", "g", "  listeners: [{name: http, port: 80, protocol: HTTP}]");
  assert.deepEqual(codes(findingsFor(noClass, false)), ["TRL0012"]);
});

test("a VirtualService bound to a Gateway API Gateway finds it; one bound to a missing gateway does not", () => {
  const vs = (gw: string) => doc("networking.istio.io/v1", "VirtualService", "bound", `  hosts: [reviews.example.com]\n  gateways: [${gw}]\n  http: [{route: [{destination: {host: reviews}}]}]`);
  assert.deepEqual(codes(findingsFor(`${gateway}\n---\n${vs("web")}`, false)), []);
  assert.deepEqual(codes(findingsFor(`${gateway}\n---\n${vs("default/web")}`, false)), []);
  assert.deepEqual(codes(findingsFor(`${gateway}\n---\n${vs("other")}`, false)), ["TRL1005"]);
});

test("Istio's Gateway and the Gateway API's of the same name are two resources, not a duplicate", () => {
  const istio = doc("networking.istio.io/v1", "Gateway", "web", "  selector: {istio: ingressgateway}\n  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"]}]");
  assert.deepEqual(codes(findingsFor(`${gateway}\n---\n${istio}`, false)), []);
  assert.deepEqual(codes(findingsFor(`${gateway}\n---\n${gateway}`, false)), ["TRL0005"]);
});

test("Gateway API kinds Trellis does not serve are named, never dropped silently", () => {
  const unserved = [
    doc("gateway.networking.x-k8s.io/v1alpha1", "XListenerSet", "x", "  parentRef: {name: web}"),
    doc(`${GW}/v1alpha2`, "UDPRoute", "u", "  parentRefs: [{name: web}]"),
  ];
  for (const text of unserved) assert.deepEqual(codes(parseDocuments(text, "x.yaml").findings), ["TRL0004"]);
  assert.deepEqual(codes(parseDocuments(doc(`${GW}/v1alpha1`, "HTTPRoute", "r", "  rules: []"), "x.yaml").findings), ["TRL0003"]);
});

test("a GatewayClass is cluster-scoped: its namespace is dropped", () => {
  const r = parseDocuments(doc(`${GW}/v1`, "GatewayClass", "c", "  controllerName: a.b/c", "whatever"), "c.yaml").resources[0];
  assert.equal(r.metadata.namespace, undefined);
});

test("kinds are found by kubectl's names, the Gateway API's Gateway by its group or short name", () => {
  assert.equal(findKind("gateway")?.group, "networking.istio.io");
  assert.equal(findKind("gtw")?.group, GW);
  assert.equal(findKind("gateways.gateway.networking.k8s.io")?.group, GW);
  assert.equal(findKind("httproutes")?.kind, "HTTPRoute");
  assert.equal(kindFor(`${GW}/v1alpha2`, "TCPRoute")?.plural, "tcproutes");
  assert.equal(kindFor(`${GW}/v1`, "TCPRoute"), undefined);
});
