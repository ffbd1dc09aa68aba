// `trellis proxy-status`: each connected proxy's xDS sync state per type (SYNCED, STALE, NOT SENT, NACKED), as istioctl shows.
import { parseArgs } from "node:util";
import { call, controlAddress } from "./rest-client.js";

const USAGE = "usage: trellis proxy-status [--control HOST:PORT]";

interface ProxyRow {
  node: { id: string };
  types: Array<{ typeUrl: string; state: string; nackError?: string }>;
  /** Set when the control plane cannot build this proxy's configuration: what it holds is not what the store says. */
  configError?: string;
}

export async function run(args: string[]): Promise<number> {
  let control: string | undefined;
  try {
    const { values } = parseArgs({ args, options: { control: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (values.help) { console.log(USAGE); return 0; }
    control = values.control;
  } catch (err) {
    console.error(`trellis proxy-status: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const res = await call(controlAddress(control), "GET", "/debug/proxies");
    const rows = res.body as unknown as ProxyRow[];
    const state = (t: ProxyRow["types"], suffix: string) => t.find((x) => x.typeUrl.endsWith(suffix))?.state ?? "NOT SENT";
    console.log(`${"NAME".padEnd(36)}${"CDS".padEnd(10)}${"LDS".padEnd(10)}${"EDS".padEnd(10)}${"RDS".padEnd(10)}VERSION`);
    for (const p of rows) {
      const col = (t: ProxyRow["types"], suffix: string) => (p.configError ? "ERROR" : state(t, suffix));
      console.log(`${p.node.id.padEnd(36)}${col(p.types, "Cluster").padEnd(10)}${col(p.types, "Listener").padEnd(10)}${col(p.types, "ClusterLoadAssignment").padEnd(10)}${col(p.types, "RouteConfiguration").padEnd(10)}trellis`);
    }
    for (const p of rows) if (p.configError) console.log(`  ${p.node.id} ERROR: ${p.configError}`);
    for (const p of rows) for (const t of p.types) if (t.nackError) console.log(`  ${p.node.id} NACKED ${t.typeUrl.split(".").pop()}: ${t.nackError}`);
    return 0;
  } catch (err) {
    console.error(`trellis proxy-status: ${(err as Error).message}`);
    return 1;
  }
}
