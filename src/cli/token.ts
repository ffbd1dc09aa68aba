// `trellis token create` issues a bootstrap token that lets one workload's proxy get its certificate and register
// what the token allows; `trellis token revoke` refuses a token from then on.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TokenIssuer } from "../control/ca/tokens.js";

const USAGE = `usage: trellis token create -n NAMESPACE --service-account SA [--service SVC] [--label KEY=VALUE]... | [--workload-entry NAME] [--ttl DURATION] [--state-dir DIR] [--trust-domain DOMAIN]
       trellis token revoke TOKEN_FILE|- [--state-dir DIR]

create prints a token on stdout. Whoever holds it can obtain certificates for spiffe://DOMAIN/ns/NAMESPACE/sa/SA
until it expires, so treat it as a secret. Its proxy may register service SVC (none without --service: a client or
a gateway) with the labels given (app=SVC always); or, with --workload-entry, the service and labels of that
WorkloadEntry in NAMESPACE (read when the proxy connects), as Istio ties a VM to its entry. DURATION is like 30m, 24h or 3600s (default and cap 24h).
The token is signed with the key in STATE_DIR/ca/token-key (default ./.trellis), the control plane's own.
revoke reads a token from TOKEN_FILE (- = stdin) and refuses it from now on, for new streams and certificates.`;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function ttlSeconds(text: string): number | undefined {
  const m = /^(\d+)([smhd])?$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2] ?? "s"] : undefined;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        namespace: { type: "string", short: "n" },
        "service-account": { type: "string" },
        ttl: { type: "string", default: "24h" },
        "state-dir": { type: "string", default: ".trellis" },
        "trust-domain": { type: "string", default: "cluster.local" },
        service: { type: "string" },
        label: { type: "string", multiple: true },
        "workload-entry": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    console.error(`trellis token: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] === "revoke" && positionals.length === 2) return revoke(positionals[1], values["state-dir"]!, values["trust-domain"]!);
  if (positionals[0] !== "create" || positionals.length !== 1) {
    console.error(`trellis token: expected "create" or "revoke TOKEN_FILE"\n\n${USAGE}`);
    return 2;
  }
  if (!values.namespace || !values["service-account"]) {
    console.error(`trellis token create: -n NAMESPACE and --service-account SA are required\n\n${USAGE}`);
    return 2;
  }
  const ttl = ttlSeconds(values.ttl!);
  if (!ttl) {
    console.error(`trellis token create: --ttl "${values.ttl}" is not a duration; write it like 30m, 24h or 3600s`);
    return 2;
  }
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const eq = l.indexOf("=");
    if (eq < 1) {
      console.error(`trellis token create: --label "${l}" must look like KEY=VALUE (e.g. version=v1)`);
      return 2;
    }
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  try {
    const issuer = TokenIssuer.open(join(values["state-dir"]!, "ca", "token-key"), values["trust-domain"]!);
    process.stdout.write(issuer.issue(values.namespace, values["service-account"], ttl, Date.now(), values["workload-entry"] ? { workloadEntry: values["workload-entry"], ...(values.service || values.label ? { service: values.service, labels } : {}) } : { service: values.service, labels }) + "\n");
    return 0;
  } catch (err) {
    console.error(`trellis token create: ${(err as Error).message}`);
    return 1;
  }
}

function revoke(source: string, stateDir: string, trustDomain: string): number {
  let token: string;
  try {
    token = readFileSync(source === "-" ? 0 : source, "utf8").trim();
  } catch (err) {
    console.error(`trellis token revoke: cannot read the token from ${source}: ${(err as Error).message}`);
    return 1;
  }
  try {
    const issuer = TokenIssuer.open(join(stateDir, "ca", "token-key"), trustDomain);
    const id = issuer.idOf(token);
    if (!id.ok) {
      console.error(`trellis token revoke: ${id.error}`);
      return 1;
    }
    issuer.revocations.add(id.id, id.expiresAt);
    console.error(`trellis token revoke: token ${id.id} is refused from now on (until ${new Date(id.expiresAt).toISOString()}, when it would have expired)`);
    return 0;
  } catch (err) {
    console.error(`trellis token revoke: ${(err as Error).message}`);
    return 1;
  }
}
