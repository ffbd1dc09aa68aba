// What Istio's webhook refuses in a ServiceEntry beyond the CRD schema (ValidateServiceEntry): endpoints that do not fit
// the resolution, hosts DNS cannot resolve, duplicate ports, several hosts on a plain TCP port; and what it accepts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateResource } from "../../src/api/analyze.js";
import type { IstioResource } from "../../src/api/resource.js";

const se = (spec: Record<string, unknown>): IstioResource => ({ apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "s", namespace: "default" }, spec });
const findings = (spec: Record<string, unknown>) => validateResource(se(spec)).map((f) => `${f.code} ${f.path}`);
const http = [{ number: 80, name: "http", protocol: "HTTP" }];

test("accepted: DNS over names or IPs (Istio resolves both), DNS over the hosts, NONE with wildcards, STATIC over IPs", () => {
  assert.deepEqual(findings({ hosts: ["api.example.com"], resolution: "DNS", ports: http, endpoints: [{ address: "a.example.com", ports: { http: 8080 } }, { address: "10.0.0.1" }] }), []);
  assert.deepEqual(findings({ hosts: ["api.example.com", "www.example.com"], resolution: "DNS", ports: http }), [], "several hosts on an HTTP port");
  assert.deepEqual(findings({ hosts: ["*.example.com"], resolution: "NONE", ports: [{ number: 443, name: "tls", protocol: "TLS" }] }), []);
  assert.deepEqual(findings({ hosts: ["db.example.com"], resolution: "STATIC", ports: [{ number: 5432, name: "tcp", protocol: "TCP" }], endpoints: [{ address: "10.0.0.7" }, { address: "unix:///var/run/db.sock" }] }), []);
  assert.deepEqual(findings({ hosts: ["rr.example.com"], resolution: "DNS_ROUND_ROBIN", ports: http, endpoints: [{ address: "one.example.com" }] }), []);
});

test("refused, each naming its field: endpoints that do not fit the resolution, unresolvable hosts, duplicate ports", () => {
  assert.deepEqual(findings({ hosts: ["*.example.com"], resolution: "DNS", ports: http }), ["TRL0015 spec.hosts[0]"], "DNS resolves the hosts when there are no endpoints: no wildcards");
  assert.deepEqual(findings({ hosts: ["api"], resolution: "DNS", ports: http }), ["TRL0015 spec.hosts[0]"], "nor short names");
  assert.deepEqual(findings({ hosts: ["api.example.com"], resolution: "NONE", ports: http, endpoints: [{ address: "10.0.0.1" }] }), ["TRL0019 spec.endpoints"]);
  assert.deepEqual(findings({ hosts: ["api.example.com"], resolution: "STATIC", ports: http, endpoints: [{ address: "backend.example.com" }, { address: "10.0.0.1", ports: { grpc: 9000 } }] }), ["TRL0020 spec.endpoints[0].address", "TRL0020 spec.endpoints[1].ports.grpc"]);
  assert.deepEqual(findings({ hosts: ["api.example.com"], resolution: "DNS", ports: http, endpoints: [{ address: "bad_name!" }] }), ["TRL0020 spec.endpoints[0].address"]);
  assert.deepEqual(findings({ hosts: ["rr.example.com"], resolution: "DNS_ROUND_ROBIN", ports: http, endpoints: [{ address: "one.example.com" }, { address: "two.example.com" }] }), ["TRL0019 spec.endpoints"]);
  assert.deepEqual(findings({ hosts: ["api.example.com"], resolution: "STATIC", ports: [...http, { number: 80, name: "http", protocol: "HTTP" }], endpoints: [{ address: "10.0.0.1" }] }), ["TRL0020 spec.ports[1].name", "TRL0020 spec.ports[1].number"]);
  assert.deepEqual(findings({ hosts: ["a.example.com", "b.example.com"], resolution: "DNS", ports: [{ number: 5432, name: "tcp", protocol: "TCP" }] }), ["TRL0019 spec.hosts"]);
  assert.deepEqual(findings({ hosts: ["*"], resolution: "NONE", ports: http }), ["TRL0015 spec.hosts[0]"]);
  assert.deepEqual(findings({ hosts: ["api.example.com"], resolution: "DNS", addresses: ["10.0.0.0/24"], ports: http }), ["TRL0019 spec.resolution"]);
  assert.deepEqual(findings({ hosts: ["api.example.com"], resolution: "STATIC", ports: http, workloadSelector: { labels: { app: "vm" } }, endpoints: [] }), ["TRL0019 spec.endpoints"]);
  const [message] = validateResource(se({ hosts: ["*.example.com"], resolution: "DNS", ports: http })).map((f) => f.message);
  assert.match(message, /^spec\.hosts\[0\]: "\*\.example\.com" must be a fully qualified name when resolution DNS has no endpoints/);
});
