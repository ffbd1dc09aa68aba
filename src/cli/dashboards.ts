// `trellis dashboards export [--out DIR]`: writes Grafana-importable dashboards (mesh, service, workload) made from the
// PromQL the console's charts run, for people who run Grafana against Prometheus.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { grafanaDashboards } from "../telemetry/dashboards/grafana-dashboards.js";

const USAGE = `usage: trellis dashboards export [--out DIR]

Writes trellis-mesh.json, trellis-service.json and trellis-workload.json (Grafana dashboards, schema 39, a
Prometheus data source chosen on import) into DIR (default: the current directory). Their panels run the same
PromQL as the console's charts, over Istio's standard metrics.`;

export async function run(args: string[]): Promise<number> {
  let values: { out?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: "string" }, help: { type: "boolean", short: "h" } } }));
  } catch (err) {
    console.error(`trellis dashboards: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "export") {
    console.error(`trellis dashboards: ${positionals.length ? `"${positionals.join(" ")}" is not a subcommand` : "say what to do"}; the one subcommand is export\n\n${USAGE}`);
    return 2;
  }
  const dir = values.out ?? ".";
  mkdirSync(dir, { recursive: true });
  for (const [file, json] of Object.entries(grafanaDashboards())) {
    writeFileSync(join(dir, file), JSON.stringify(json, null, 2) + "\n");
    console.log(`wrote ${join(dir, file)}`);
  }
  return 0;
}
