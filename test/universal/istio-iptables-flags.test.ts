// `trellis istio-iptables` reads istio-iptables' flags as the injected init container passes them, and the rules it
// would install (dry run) carry each exclusion and inclusion in istio-iptables' order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { parseIstioIptables } from "../../src/cli/istio-iptables.js";
import { interceptionRules } from "../../src/universal/iptables-rules.js";

test("the injected init container's flags become the interception plan", () => {
  const { plan, dryRun } = parseIstioIptables(["-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "10.0.0.0/8", "-x", "10.96.0.1/32", "-b", "*", "-d", "15090,15021,15020", "-o", "3306", "-q", "8443"]);
  assert.equal(dryRun, false);
  assert.deepEqual(plan, { outboundPort: 15001, inboundPort: 15006, proxyUid: 1337, proxyGid: undefined, outboundCidrs: ["10.0.0.0/8"], excludeOutboundCidrs: ["10.96.0.1/32"], inboundPorts: "*", excludeInboundPorts: [15090, 15021, 15020], excludeOutboundPorts: [3306], includeOutboundPorts: [8443] });
  const rules = interceptionRules(plan).split("\n");
  const at = (line: string) => { const i = rules.indexOf(line); assert.ok(i >= 0, `missing: ${line}`); return i; };
  // Exclusions come before the captures they would otherwise fall into.
  assert.ok(at("-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN") < at("-A ISTIO_OUTPUT -p tcp --dport 3306 -j RETURN"));
  assert.ok(at("-A ISTIO_OUTPUT -p tcp --dport 3306 -j RETURN") < at("-A ISTIO_OUTPUT -p tcp --dport 8443 -j ISTIO_REDIRECT"));
  assert.ok(at("-A ISTIO_OUTPUT -d 10.96.0.1/32 -j RETURN") < at("-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT"));
  at("-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN");
  assert.deepEqual(parseIstioIptables(["-x", "", "-i", ""]).plan.outboundCidrs, []);
});

test("bad flags are refused by name", () => {
  assert.throws(() => parseIstioIptables(["-m", "TPROXY"]), /-m: "TPROXY" is not supported/);
  assert.throws(() => parseIstioIptables(["-d", "15021,http"]), /-d: "http" is not a port/);
  assert.throws(() => parseIstioIptables(["-i", "fd00::/8"]), /-i: "fd00::\/8" is not an IPv4 CIDR/);
  assert.throws(() => parseIstioIptables(["-u", "istio"]), /-u: "istio" is not a numeric id/);
  assert.throws(() => parseIstioIptables(["--tproxy"]), /Unknown option '--tproxy'/);
});

test("trellis istio-iptables -n prints the rules and changes nothing; exit 2 on a bad flag", () => {
  const ok = spawnSync(process.execPath, ["dist/src/cli/main.js", "istio-iptables", "-u", "1337", "-d", "15021", "-n"], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^\*nat\n[\s\S]*-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN[\s\S]*COMMIT/);
  const bad = spawnSync(process.execPath, ["dist/src/cli/main.js", "istio-iptables", "-b", "all"], { encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /-b: "all" is not a port/);
});
