// `trellis token create`: issues a bootstrap token that lets one workload's proxy get its certificate.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TokenIssuer } from "../control/ca/tokens.js";

const USAGE = `usage: trellis token create -n NAMESPACE --service-account SA [--ttl DURATION] [--state-dir DIR] [--trust-domain DOMAIN]

Prints a token on stdout. Whoever holds it can obtain certificates for spiffe://DOMAIN/ns/NAMESPACE/sa/SA
until it expires, so treat it as a secret. DURATION is like 30m, 24h or 3600s (default 24h).
The token is signed with the key in STATE_DIR/ca/token-key (default ./.trellis), the control plane's own.`;

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
  if (positionals[0] !== "create" || positionals.length !== 1) {
    console.error(`trellis token: expected the subcommand "create"\n\n${USAGE}`);
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
  try {
    const issuer = TokenIssuer.open(join(values["state-dir"]!, "ca", "token-key"), values["trust-domain"]!);
    process.stdout.write(issuer.issue(values.namespace, values["service-account"], ttl) + "\n");
    return 0;
  } catch (err) {
    console.error(`trellis token create: ${(err as Error).message}`);
    return 1;
  }
}
