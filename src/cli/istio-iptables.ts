// `trellis istio-iptables`: the injected init container's step, taking istio-iptables' flags, installing the same
// interception rules `trellis run --transparent` uses (src/universal/iptables-rules.ts) in the current network
// namespace (the pod's) with iptables-restore.
import { parseArgs } from "node:util";
import { interceptionRules, type InterceptionPlan } from "../universal/iptables-rules.js";
import { sh } from "../universal/exec.js";

const USAGE = `usage: trellis istio-iptables [-p PORT] [-z PORT] (-u UID | -g GID) [-m REDIRECT] [-i CIDRS|*] [-x CIDRS]
                              [-b PORTS|*] [-d PORTS] [-o PORTS] [-q PORTS] [-n]

Installs Istio's interception rules in this network namespace, as istio-iptables does in istio-init:
  -p, --envoy-port                        outbound capture port (default 15001)
  -z, --inbound-capture-port              inbound capture port (default 15006)
  -u, --proxy-uid / -g, --proxy-gid       the sidecar's uid or gid, whose traffic is never captured (default -u 1337)
  -m, --istio-inbound-interception-mode   REDIRECT (the only mode Trellis implements)
  -i, --istio-service-cidr                outbound CIDRs to capture, comma-separated, "*" = all (default), "" = none
  -x, --istio-service-exclude-cidr        outbound CIDRs never captured
  -b, --istio-inbound-ports               inbound ports to capture, "*" = all (default), "" = none
  -d, --istio-local-exclude-ports         inbound ports never captured
  -o, --istio-local-outbound-ports-exclude  outbound ports never captured
  -q                                      outbound ports always captured
  -n, --dry-run                           print the rules, change nothing`;

const PORT = /^\d+$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

function portList(flag: string, v: string, star: boolean): number[] | "*" {
  if (star && v.trim() === "*") return "*";
  return v.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!PORT.test(s) || n < 1 || n > 65535) throw new Error(`${flag}: "${s}" is not a port (1-65535)${star ? ' or "*"' : ""}`);
    return n;
  });
}

function cidrList(flag: string, v: string, star: boolean): string[] | "*" {
  if (star && v.trim() === "*") return "*";
  return v.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    if (!CIDR.test(s)) throw new Error(`${flag}: "${s}" is not an IPv4 CIDR (e.g. 10.0.0.0/8)${star ? ' or "*"' : ""}; IPv6 is not captured by Trellis`);
    return s;
  });
}

function id(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!PORT.test(v)) throw new Error(`${flag}: "${v}" is not a numeric id`);
  return Number(v);
}

/** istio-iptables' flags as an interception plan; throws naming the flag. */
export function parseIstioIptables(args: string[]): { plan: InterceptionPlan; dryRun: boolean } {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    "envoy-port": { type: "string", short: "p", default: "15001" },
    "inbound-capture-port": { type: "string", short: "z", default: "15006" },
    "proxy-uid": { type: "string", short: "u" },
    "proxy-gid": { type: "string", short: "g" },
    "istio-inbound-interception-mode": { type: "string", short: "m", default: "REDIRECT" },
    "istio-service-cidr": { type: "string", short: "i", default: "*" },
    "istio-service-exclude-cidr": { type: "string", short: "x", default: "" },
    "istio-inbound-ports": { type: "string", short: "b", default: "*" },
    "istio-local-exclude-ports": { type: "string", short: "d", default: "" },
    "istio-local-outbound-ports-exclude": { type: "string", short: "o", default: "" },
    "include-outbound-ports": { type: "string", short: "q", default: "" },
    "dry-run": { type: "boolean", short: "n" },
  } });
  if (positionals.length) throw new Error(`unexpected argument "${positionals[0]}"`);
  if (values["istio-inbound-interception-mode"] !== "REDIRECT") throw new Error(`-m: "${values["istio-inbound-interception-mode"]}" is not supported; Trellis intercepts with REDIRECT`);
  const proxyUid = id("-u", values["proxy-uid"]);
  const proxyGid = id("-g", values["proxy-gid"]);
  const plan: InterceptionPlan = {
    outboundPort: portList("-p", values["envoy-port"]!, false)[0] as number,
    inboundPort: portList("-z", values["inbound-capture-port"]!, false)[0] as number,
    proxyUid: proxyUid ?? (proxyGid === undefined ? 1337 : undefined),
    proxyGid,
    outboundCidrs: cidrList("-i", values["istio-service-cidr"]!, true),
    excludeOutboundCidrs: cidrList("-x", values["istio-service-exclude-cidr"]!, false) as string[],
    inboundPorts: portList("-b", values["istio-inbound-ports"]!, true),
    excludeInboundPorts: portList("-d", values["istio-local-exclude-ports"]!, false) as number[],
    excludeOutboundPorts: portList("-o", values["istio-local-outbound-ports-exclude"]!, false) as number[],
    includeOutboundPorts: portList("-q", values["include-outbound-ports"]!, false) as number[],
  };
  if (plan.outboundPort === undefined || plan.inboundPort === undefined) throw new Error("-p and -z need a port");
  return { plan, dryRun: !!values["dry-run"] };
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseIstioIptables(args);
  } catch (err) {
    console.error(`trellis istio-iptables: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const rules = interceptionRules(parsed.plan);
  console.log(rules);
  if (parsed.dryRun) return 0;
  try {
    sh("iptables-restore", ["--noflush"], { input: rules });
  } catch (err) {
    console.error(`trellis istio-iptables: cannot install the rules (the init container needs NET_ADMIN and NET_RAW): ${(err as Error).message}`);
    return 1;
  }
  console.error("trellis istio-iptables: interception rules installed");
  return 0;
}
