// The schema follows a current Istio release: fields Istio added lately are accepted, a misspelt one is still refused,
// Telemetry and WorkloadGroup are validated kinds, and `trellis analyze --version` names the release.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import type { Finding } from "../../src/api/finding.js";
import { SCHEMA_RELEASES } from "../../src/api/schema.js";
import { findingsFor } from "./fixtures.js";

const codes = (list: Finding[]) => list.map((f) => f.code);
const res = (apiVersion: string, kind: string, spec: string) => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: x, namespace: shop}\nspec:\n${spec}`;

const NEWER: Array<{ what: string; yaml: string; typo: string }> = [
  { what: "AuthorizationPolicy source.trustDomains", yaml: res("security.istio.io/v1", "AuthorizationPolicy", "  rules:\n  - from: [{source: {trustDomains: [example.org]}}]"), typo: res("security.istio.io/v1", "AuthorizationPolicy", "  rules:\n  - from: [{source: {trustDomain: [example.org]}}]") },
  { what: "RequestAuthentication jwtRules[].presence", yaml: res("security.istio.io/v1", "RequestAuthentication", "  jwtRules:\n  - issuer: https://issuer.example.com\n    presence: REQUIRED"), typo: res("security.istio.io/v1", "RequestAuthentication", "  jwtRules:\n  - issuer: https://issuer.example.com\n    presense: REQUIRED") },
  { what: "DestinationRule connectionPool.http.http2KeepAlive", yaml: res("networking.istio.io/v1", "DestinationRule", "  host: reviews\n  trafficPolicy:\n    connectionPool: {http: {http2KeepAlive: {interval: 30s, timeout: 5s}}}"), typo: res("networking.istio.io/v1", "DestinationRule", "  host: reviews\n  trafficPolicy:\n    connectionPool: {http: {http2Keepalive: {interval: 30s, timeout: 5s}}}") },
  { what: "ServiceEntry resolution DYNAMIC_DNS (accepted; TRL0006 says Trellis does not act on it)", yaml: res("networking.istio.io/v1", "ServiceEntry", "  hosts: [\"*.example.com\"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DYNAMIC_DNS"), typo: res("networking.istio.io/v1", "ServiceEntry", "  hosts: [\"*.example.com\"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DYNAMIC_DSN") },
];

for (const c of NEWER) {
  test(`newer field accepted: ${c.what}; a misspelling of it is not`, () => {
    assert.deepEqual(codes(findingsFor(c.yaml, false)).filter((x) => x !== "TRL0006"), []);
    assert.ok(codes(findingsFor(c.typo, false)).some((x) => x === "TRL0010" || x === "TRL0013"));
  });
}

test("Telemetry and WorkloadGroup are validated kinds, not skipped", () => {
  const telemetry = res("telemetry.istio.io/v1", "Telemetry", "  selector: {matchLabels: {app: web}}\n  accessLogging: [{providers: [{name: envoy}]}]\n  tracing: [{randomSamplingPercentage: 10}]");
  assert.deepEqual(codes(findingsFor(telemetry, false)), []);
  assert.deepEqual(codes(findingsFor(telemetry.replace("accessLogging", "accessLoging"), false)), ["TRL0010"]);
  const group = res("networking.istio.io/v1", "WorkloadGroup", "  metadata: {labels: {app: vm}}\n  template: {serviceAccount: vm, network: net1}");
  // Valid, but Trellis does not auto-register workloads from it: said on every write, never silently ignored.
  assert.deepEqual(codes(findingsFor(group, false)), ["TRL0006"]);
  assert.deepEqual(codes(findingsFor(group.replace("template:", "templat:"), false)).filter((c) => c !== "TRL0006"), ["TRL0012", "TRL0010"], "template is required, templat unknown");
});

test("trellis analyze --version names the Istio release of the schema", () => {
  assert.match(SCHEMA_RELEASES.istio, /^1\.\d+\.\d+$/);
  const run = spawnSync(process.execPath, ["dist/src/cli/main.js", "analyze", "--version"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`Istio ${SCHEMA_RELEASES.istio.replace(/\./g, "\\.")}`));
});
