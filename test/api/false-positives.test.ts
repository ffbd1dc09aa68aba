// Configurations Istio accepts without a word, that users hit first: each must analyse clean here, beside the near
// case that must still be reported.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Finding } from "../../src/api/finding.js";
import { parseDocuments } from "../../src/api/load.js";
import { findingsFor } from "./fixtures.js";

const codes = (list: Finding[]) => list.map((f) => f.code);
const vs = (name: string, spec: string, namespace = "default") => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec}`;
const ingress = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: ingress}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]";

test("Istio's egress example (two-label host httpbin.org) is clean; a one-label unknown host is still reported", () => {
  const se = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: httpbin-ext}\nspec:\n  hosts: [httpbin.org]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n  location: MESH_EXTERNAL";
  const route = vs("httpbin-ext", "  hosts: [httpbin.org]\n  http:\n  - timeout: 3s\n    route:\n    - destination: {host: httpbin.org}\n      weight: 100");
  assert.deepEqual(codes(findingsFor(`${se}\n---\n${route}`)), []);
  assert.deepEqual(codes(findingsFor(`${se}\n---\n${vs("x", "  hosts: [httpbin]\n  http:\n  - route:\n    - destination: {host: httpbin}")}`)), ["TRL1007", "TRL1006"]);
});

test("VirtualServices sharing a host on one ingress Gateway are merged, not a conflict; on the mesh they are", () => {
  const a = vs("a", "  hosts: [shop.example.com]\n  gateways: [ingress]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: reviews}}]");
  const b = vs("b", "  hosts: [shop.example.com]\n  gateways: [ingress]\n  http:\n  - match: [{uri: {prefix: /b}}]\n    route: [{destination: {host: ratings}}]");
  assert.deepEqual(codes(findingsFor(`${ingress}\n---\n${a}\n---\n${b}`)), []);
  const meshA = vs("a", "  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]");
  const meshB = vs("b", "  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]");
  assert.deepEqual(codes(findingsFor(`${meshA}\n---\n${meshB}`)), ["TRL1004", "TRL1004"], "Istio reports each VirtualService of the conflict");
});

test("exportTo: VirtualServices for one host visible in different namespaces do not conflict", () => {
  const local = (name: string, namespace: string) => vs(name, "  hosts: [reviews.default.svc.cluster.local]\n  exportTo: [\".\"]\n  http: [{route: [{destination: {host: reviews.default.svc.cluster.local}}]}]", namespace);
  assert.deepEqual(codes(findingsFor(`${local("a", "team-a")}\n---\n${local("b", "team-b")}`)), []);
  const everywhere = vs("c", "  hosts: [reviews.default.svc.cluster.local]\n  http: [{route: [{destination: {host: reviews.default.svc.cluster.local}}]}]", "team-c");
  assert.deepEqual(codes(findingsFor(`${local("a", "team-a")}\n---\n${everywhere}`)), ["TRL1004", "TRL1004"], "one exported everywhere meets the local one in its namespace");
});

test("a wildcard destination host is a valid destination; \"*\" alone is not", () => {
  const route = (host: string) => vs("w", `  hosts: ["*.example.com"]\n  http: [{route: [{destination: {host: "${host}"}}]}]`);
  assert.deepEqual(codes(findingsFor(route("*.example.com"), false)), []);
  assert.deepEqual(codes(findingsFor(route("*"), false)), ["TRL0015"]);
});

test("empty documents (a trailing ---, comments only, an empty file) are skipped; a bare scalar is not an object", () => {
  const sidecar = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s}\nspec: {}";
  for (const text of [`${sidecar}\n---\n`, `---\n# only a comment\n---\n${sidecar}\n---\n\n---\n`, ""]) {
    assert.deepEqual(parseDocuments(text, "e.yaml").findings, [], JSON.stringify(text));
  }
  assert.deepEqual(codes(parseDocuments("just text\n", "e.yaml").findings), ["TRL0002"]);
});

test("route weights are relative: 90 + 20 or a lone 0 are accepted, several zeros are refused", () => {
  const split = (a: number, b: number) => vs("w", `  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews}, weight: ${a}}\n    - {destination: {host: ratings}, weight: ${b}}`);
  assert.deepEqual(codes(findingsFor(split(90, 20))), []);
  assert.deepEqual(codes(findingsFor(vs("w", "  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews}, weight: 0}"))), []);
  assert.deepEqual(codes(findingsFor(split(0, 0))), ["TRL1001"]);
});
