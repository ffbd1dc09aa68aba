// Loading YAML and JSON: multi-document files, lists, JSON arrays, positions, and parse errors with their line.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocuments, splitPath } from "../../src/api/load.js";
import { formatProblems } from "../../src/api/format-rules.js";
import { parseGoDuration } from "../../src/api/formats.js";

test("multi-document YAML keeps each resource's position, and field lines", () => {
  const text = "# comment\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: b\n  namespace: prod\nspec:\n  host: b\n  subsets:\n  - name: v1\n    labels: {version: v1}\n";
  const r = parseDocuments(text, "f.yaml");
  assert.deepEqual(r.findings, []);
  assert.deepEqual(r.resources.map((x) => [x.kind, x.metadata.namespace, x.metadata.name, x.origin!.line]), [["VirtualService", "default", "a", 2], ["DestinationRule", "prod", "b", 8]]);
  assert.equal(r.resources[1].origin!.lineOf("spec.subsets[0].labels"), 17);
  assert.equal(r.resources[1].origin!.lineOf("spec.subsets[0].nothing.here"), 16, "a missing path falls back to its nearest parent");
});

test("JSON arrays and Kubernetes List kinds are flattened; other kinds are kept as context", () => {
  const json = JSON.stringify([{ apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "g" }, spec: {} }, { apiVersion: "v1", kind: "Service", metadata: { name: "s" } }]);
  const r = parseDocuments(json, "f.json");
  assert.equal(r.resources.length, 1);
  assert.equal(r.others.length, 1);
  const list = parseDocuments("apiVersion: v1\nkind: List\nitems:\n- apiVersion: security.istio.io/v1\n  kind: PeerAuthentication\n  metadata: {name: p}\n  spec: {}\n", "l.yaml");
  assert.equal(list.resources[0].kind, "PeerAuthentication");
  assert.equal(list.resources[0].origin!.line, 4);
});

test("parse errors name the file and line; duplicate keys are errors; nothing throws", () => {
  const bad = parseDocuments("apiVersion: v1\nkind: x\nspec:\n  a: 1\n  a: 2\n", "dup.yaml");
  assert.equal(bad.findings[0].code, "TRL0001");
  assert.deepEqual(bad.findings[0].source, { file: "dup.yaml", line: 5 });
  const broken = parseDocuments("a: [1, 2\n", "broken.yaml");
  assert.equal(broken.findings[0].code, "TRL0001");
  assert.equal(broken.findings[0].source!.file, "broken.yaml");
  const noKind = parseDocuments("apiVersion: networking.istio.io/v1\nmetadata: {name: x}\n", "k.yaml");
  assert.match(noKind.findings[0].message, /has no kind/);
  const noName = parseDocuments("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {}\nspec: {}\n", "n.yaml");
  assert.match(noName.findings[0].message, /no metadata.name/);
});

test("paths split into keys and indexes", () => {
  assert.deepEqual(splitPath("spec.http[0].route[12].destination"), ["spec", "http", 0, "route", 12, "destination"]);
});

test("Go durations as Istio accepts them", () => {
  assert.equal(parseGoDuration("1m30s"), 90_000);
  assert.equal(parseGoDuration("0.5s"), 500);
  assert.equal(parseGoDuration("100ms"), 100);
  assert.equal(parseGoDuration("5"), undefined);
  assert.equal(parseGoDuration("5 s"), undefined);
});

test("format rules: hosts with namespaces in Sidecar, labels with prefixes, CIDRs in when-conditions", () => {
  assert.deepEqual(formatProblems("Sidecar", { egress: [{ hosts: ["./*", "istio-system/*", "reviews"] }] }).map((p) => p.path), ["spec.egress[0].hosts[2]"]);
  assert.deepEqual(formatProblems("DestinationRule", { host: "r", subsets: [{ name: "a", labels: { "app.kubernetes.io/name": "x", "bad key!": "y" } }] }).map((p) => p.code), ["TRL0016"]);
  assert.deepEqual(formatProblems("AuthorizationPolicy", { rules: [{ when: [{ key: "source.ip", values: ["10.1.2.3", "nope"] }] }] }).map((p) => p.path), ["spec.rules[0].when[0].values[1]"]);
});
