// `trellis dashboards export`: the Grafana dashboards it writes are importable JSON whose every panel query, with
// Grafana's variables filled in, is PromQL the embedded engine parses (the same engine and queries the console uses).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePromQL } from "../../src/telemetry/metrics/promql-parse.js";
import { entityQueries } from "../../src/telemetry/metrics/entity-metrics.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-dashboards-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Dashboard { uid: string; title: string; panels: Array<{ id: number; title: string; targets: Array<{ expr: string }> }>; templating: { list: Array<{ name: string }> } }

test("three dashboards, unique panel ids, every query valid PromQL, the console's own queries among them", () => {
  const out = execFileSync(process.execPath, ["dist/src/cli/main.js", "dashboards", "export", "--out", dir], { encoding: "utf8" });
  assert.match(out, /wrote .*trellis-mesh\.json/);
  assert.deepEqual(readdirSync(dir).sort(), ["trellis-mesh.json", "trellis-service.json", "trellis-workload.json"]);
  const fill = (q: string) => q.replace(/\$__rate_interval/g, "1m").replace(/\$namespace/g, "default").replace(/\$(service|workload)/g, "reviews");
  const exprs: string[] = [];
  for (const f of readdirSync(dir)) {
    const d = JSON.parse(readFileSync(join(dir, f), "utf8")) as Dashboard;
    assert.ok(d.uid && d.title && d.panels.length >= 4, f);
    assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, `${f}: panel ids are unique`);
    for (const p of d.panels) for (const t of p.targets) {
      assert.doesNotThrow(() => parsePromQL(fill(t.expr)), `${f} "${p.title}": ${t.expr}`);
      exprs.push(fill(t.expr));
    }
  }
  const console = entityQueries("service", "inbound", "default", "reviews", "1m");
  assert.ok(exprs.includes(console.p99), "the service page's p99 is the console's query");
  assert.ok(exprs.includes(console.tcpSent));
  assert.equal(execFileSyncStatus(["dashboards", "import"]), 2, "an unknown subcommand is refused");
});

function execFileSyncStatus(args: string[]): number {
  try {
    execFileSync(process.execPath, ["dist/src/cli/main.js", ...args], { stdio: "ignore" });
    return 0;
  } catch (err) {
    return (err as { status: number }).status;
  }
}
