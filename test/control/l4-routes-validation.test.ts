// What Istio's validation refuses in VirtualService tcp and tls routes beyond the CRD schema: a tls route without
// matches, a tls match without SNI hosts, an SNI host outside the VirtualService's hosts, a route without
// destinations, a destinationSubnets entry that is no IP or CIDR (validateTLSRoute, validateTLSMatch,
// validateSniHost, validateTCPRoute, ValidateIPSubnet); and what it accepts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateResource } from "../../src/api/analyze.js";
import type { IstioResource } from "../../src/api/resource.js";

const vs = (spec: Record<string, unknown>): IstioResource => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "v", namespace: "default" }, spec });
const findings = (spec: Record<string, unknown>) => validateResource(vs(spec)).map((f) => `${f.code} ${f.path}`);
const to = (host: string) => [{ destination: { host } }];

test("valid tcp and tls routes: SNI hosts equal to a host or under a wildcard host, IPs and CIDRs as subnets", () => {
  assert.deepEqual(findings({ hosts: ["*.tls.example", "tls-a"], tls: [
    { match: [{ port: 443, sniHosts: ["a.tls.example", "*.b.tls.example", "tls-a"], destinationSubnets: ["10.0.0.0/8", "192.168.1.7", "fd00::/8"] }], route: to("tls-a") },
  ], tcp: [{ match: [{ destinationSubnets: ["10.1.0.0/16"], sourceLabels: { app: "sleep" } }], route: to("tcp-echo") }, { route: to("tcp-echo") }] }), []);
  assert.deepEqual(findings({ hosts: ["*"], gateways: ["default/gw"], tls: [{ match: [{ sniHosts: ["anything.example"] }], route: to("x") }] }), [], `"*" covers every name (on a gateway: Istio refuses "*" for the mesh)`);
});

test("refused: tls routes without matches or SNI hosts, SNI hosts outside the hosts, routes without destinations, bad subnets", () => {
  assert.deepEqual(findings({ hosts: ["*.tls.example"], tls: [
    { match: [], route: to("tls-a") },
    { match: [{ sniHosts: [] }], route: to("tls-a") },
    { match: [{ sniHosts: ["a.other.example", "*.tls.example", "*.example"] }], route: [] },
  ] }), ["TRL0012 spec.tls[0].match", "TRL0012 spec.tls[1].match[0].sniHosts", "TRL0012 spec.tls[2].route", "TRL0015 spec.tls[2].match[0].sniHosts[0]", "TRL0015 spec.tls[2].match[0].sniHosts[2]",
    // match: [] matches everything, so the rules after it are unreachable (Istio's IST0130 warning).
    "TRL1018 spec.tls[1]", "TRL1018 spec.tls[2]"]);
  assert.deepEqual(findings({ hosts: ["tcp-echo"], tcp: [{ match: [{ destinationSubnets: ["10.0.0.0/33", "tcp-echo"] }], route: to("tcp-echo") }] }), ["TRL0017 spec.tcp[0].match[0].destinationSubnets[0]", "TRL0017 spec.tcp[0].match[0].destinationSubnets[1]"]);
  assert.deepEqual(findings({ hosts: ["x.example"], tls: [{ match: [{ sniHosts: ["bad_name.example"] }], route: to("x") }] }), ["TRL0015 spec.tls[0].match[0].sniHosts[0]"], "a malformed name is reported once");
  assert.deepEqual(findings({ hosts: ["x.example"], tls: [{ match: [{ port: 443 }], route: to("x") }] }), ["TRL0012 spec.tls[0].match[0].sniHosts"], "the schema itself requires sniHosts");
});
