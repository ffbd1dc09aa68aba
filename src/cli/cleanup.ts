// `trellis cleanup`: removes every namespace, rule and bridge that a crashed transparent-mode run left behind.
import { parseArgs } from "node:util";
import { cleanupNamespaces } from "../universal/cleanup.js";
import { NETNS_PREFIX } from "../universal/netns.js";

const USAGE = `usage: trellis cleanup [--prefix trellis-NAME]

Kills processes left in Trellis' network namespaces (names starting "trellis-") and deletes those namespaces,
with the veths, bridges and iptables rules inside them, and their /etc/netns/ hosts files. Needs root.
--prefix limits it to the namespaces of one mesh (the prefix must itself start with "trellis-").`;

export async function run(args: string[]): Promise<number> {
  let prefix: string;
  try {
    const { values } = parseArgs({ args, options: { help: { type: "boolean", short: "h" }, prefix: { type: "string", default: NETNS_PREFIX } } });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    prefix = values.prefix!;
    if (!prefix.startsWith(NETNS_PREFIX)) throw new Error(`--prefix "${prefix}" must start with "${NETNS_PREFIX}", so nothing but Trellis' own namespaces is touched`);
  } catch (err) {
    console.error(`trellis cleanup: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error("trellis cleanup: needs root to delete network namespaces");
    return 1;
  }
  try {
    const report = cleanupNamespaces(prefix);
    if (report.namespaces.length === 0) console.log("nothing to clean up");
    else console.log(`removed ${report.namespaces.length} namespace(s): ${report.namespaces.join(", ")}${report.killed.length ? `; killed ${report.killed.length} process(es)` : ""}`);
    return 0;
  } catch (err) {
    console.error(`trellis cleanup: ${(err as Error).message}`);
    return 1;
  }
}
