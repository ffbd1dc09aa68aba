// `trellis proxy-status`: each connected proxy's xDS sync state per type (SYNCED, STALE, NOT SENT, NACKED), as istioctl
// shows, then the last config changes with how many proxies hold each and how long they took.
import { parseArgs } from "node:util";
import type { ChangeView } from "../xds/propagation.js";
import { call, controlAddress } from "./rest-client.js";

const USAGE = `usage: trellis proxy-status [--control HOST:PORT] [--changes N]

--changes N: how many recent config changes to show with their propagation (default 5, 0 for none).`;


function printChanges(changes: ChangeView[]): void {
  if (!changes.length) return;
  const ms = (v: number | undefined) => (v === undefined ? "-" : `${v}ms`);
  console.log(`\n${"GEN".padEnd(6)}${"CHANGE".padEnd(48)}${"STATE".padEnd(13)}${"PROXIES".padEnd(9)}${"P50".padEnd(9)}${"P99".padEnd(9)}MAX`);
  for (const c of changes) {
    const what = `${c.kind} ${c.namespace}/${c.name}`;
    console.log(`${String(c.generation).padEnd(6)}${what.padEnd(48)}${c.state.padEnd(13)}${`${c.proxies.held}/${c.proxies.affected}`.padEnd(9)}${ms(c.convergenceMs?.p50).padEnd(9)}${ms(c.convergenceMs?.p99).padEnd(9)}${ms(c.convergenceMs?.max)}`);
  }
  for (const c of changes) if (c.error) console.log(`  generation ${c.generation}: ${c.error}`);
  for (const c of changes) for (const n of c.nacked) console.log(`  generation ${c.generation} NACKED by ${n.proxy}: ${n.error}`);
  for (const c of changes) if (c.state === "PROPAGATING") console.log(`  generation ${c.generation} waiting for: ${c.waiting.join(", ")}`);
}

interface ProxyRow {
  node: { id: string };
  types: Array<{ typeUrl: string; state: string; nackError?: string }>;
  /** Set when the control plane cannot build this proxy's configuration: what it holds is not what the store says. */
  configError?: string;
}

export async function run(args: string[]): Promise<number> {
  let control: string | undefined;
  let changes = 5;
  try {
    const { values } = parseArgs({ args, options: { control: { type: "string" }, changes: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (values.help) { console.log(USAGE); return 0; }
    control = values.control;
    if (values.changes !== undefined) {
      if (!/^[0-9]{1,3}$/.test(values.changes) || Number(values.changes) > 200) throw new Error(`--changes "${values.changes}": give a whole number from 0 to 200`);
      changes = Number(values.changes);
    }
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
    if (changes > 0) {
      const recent = await call(controlAddress(control), "GET", `/api/v1/propagation?limit=${changes}`);
      if (recent.status === 200) printChanges((recent.body.changes as ChangeView[] | undefined) ?? []);
    }
    return 0;
  } catch (err) {
    console.error(`trellis proxy-status: ${(err as Error).message}`);
    return 1;
  }
}
