// Golden files for translation: Bookinfo with Istio's sample configs and each Istio task config, plus a mesh of
// ServiceEntries, a Sidecar and tracing, translated for sidecars of both interception modes, a gateway and a proxyless
// client. Recorded from translate() before it was split into builders, so any refactor is proven behaviour-preserving;
// the same outputs must come from one shared push index and from an index patched incrementally after a change.
// TRELLIS_UPDATE_GOLDEN=1 rewrites the files (review the diff: it is the behaviour change).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseDocuments } from "../../src/api/load.js";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { translate, type TranslateInput } from "../../src/control/translate/translate.js";
import { goldenScenarios, GOLDEN_PROXIES, GOLDEN_WORKLOADS } from "../fixtures/translate-scenarios.js";

const dir = join(process.cwd(), "test", "control", "golden");
const update = process.env.TRELLIS_UPDATE_GOLDEN === "1";

function load(files: string[]): IstioResource[] {
  return files.flatMap((f) => parseDocuments(readFileSync(f, "utf8"), f).resources).map((r) => {
    const { origin: _origin, ...rest } = r as IstioResource & { origin?: unknown };
    return rest as IstioResource;
  });
}

function outputs(resources: IstioResource[], extra: Partial<TranslateInput>, proxies: Workload[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const proxy of proxies) out[proxy.id] = JSON.parse(JSON.stringify(translate({ resources, workloads: GOLDEN_WORKLOADS, proxy, proxyless: proxy.id.startsWith("grpc-"), ...extra })));
  return out;
}

for (const s of goldenScenarios()) {
  test(`golden: ${s.name}`, () => {
    const resources = [...load(s.files), ...(s.resources ?? [])];
    const got = outputs(resources, s.input ?? {}, GOLDEN_PROXIES);
    const file = join(dir, `${s.name}.json`);
    if (update || !existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, JSON.stringify(got, null, 1) + "\n");
      if (!update) assert.fail(`${file} did not exist: recorded it; review and commit it`);
      return;
    }
    const want = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    for (const id of Object.keys(want)) assert.deepEqual(got[id], want[id], `${s.name}: proxy ${id} differs from ${file}`);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
  });
}

test("golden scenarios cover every Istio task directory", () => {
  const tasks = readdirSync(join("examples", "istio", "tasks"));
  const names = new Set(goldenScenarios().map((s) => s.name));
  for (const t of tasks) assert.ok(names.has(`task-${t}`), `examples/istio/tasks/${t} has no golden scenario`);
});
