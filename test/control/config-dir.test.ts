// `trellis control --config-dir`: the YAML in a directory is applied and kept applied. Edits update, removed
// definitions are deleted, broken files and invalid resources are reported by file and line and change nothing,
// and what was written through the API is left alone.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { SOURCE_ANNOTATION } from "../../src/control/store/config-dir.js";
import { until } from "./mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-config-dir-"));
const config = join(dir, "config");
const logs: string[] = [];
let cp: ControlPlane;

const vs = (weightV1: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: ${weightV1}
    - destination: {host: reviews, subset: v3}
      weight: ${100 - weightV1}
`;
const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v3, labels: {version: v3}}
`;

const weightOf = () => (cp.store.get("VirtualService", "default", "reviews")?.spec as { http: Array<{ route: Array<{ weight: number }> }> } | undefined)?.http[0].route[0].weight;

before(async () => {
  mkdirSync(join(config, "reviews"), { recursive: true });
  writeFileSync(join(config, "reviews", "virtual-service.yaml"), vs(50));
  writeFileSync(join(config, "reviews", "destination-rule.yml"), dr);
  writeFileSync(join(config, "README.md"), "not config");
  cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, configDir: config, configDirIntervalMs: 100, log: (l) => logs.push(l) });
  await cp.start();
});

after(async () => {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("the directory's resources are applied at start, marked with their file", () => {
  const stored = cp.store.get("VirtualService", "default", "reviews");
  assert.equal(stored?.metadata.annotations?.[SOURCE_ANNOTATION], join("reviews", "virtual-service.yaml"));
  assert.equal(weightOf(), 50);
  assert.ok(cp.store.get("DestinationRule", "default", "reviews"));
});

test("an edit is applied; a broken edit is reported with its line and the applied version keeps serving", async () => {
  writeFileSync(join(config, "reviews", "virtual-service.yaml"), vs(20));
  await until("the edit to be applied", async () => weightOf() === 20);
  // YAML that does not parse: nothing changes.
  writeFileSync(join(config, "reviews", "virtual-service.yaml"), vs(0).replace("hosts: [reviews]", "hosts: [reviews"));
  await until("the broken file to be reported", async () => logs.some((l) => l.includes("virtual-service.yaml:") && l.includes("stay as they were")));
  assert.equal(weightOf(), 20);
  // A resource that parses but is invalid (a misspelt field): reported with file, line and field, not applied.
  writeFileSync(join(config, "reviews", "virtual-service.yaml"), vs(0).replace("  http:", "  htttp:"));
  await until("the invalid resource to be reported", async () => logs.some((l) => /virtual-service\.yaml:\d+: VirtualService\/default\/reviews spec\.htttp: .*not applied/.test(l)));
  assert.equal(weightOf(), 20, "the previous version stays");
  writeFileSync(join(config, "reviews", "virtual-service.yaml"), vs(0));
  await until("the fixed file to be applied", async () => weightOf() === 0);
});

test("removing a file deletes what it defined; resources written through the API are left alone", async () => {
  const res = await fetch(`http://127.0.0.1:${cp.ports.api}/apis/networking.istio.io/v1/namespaces/default/virtualservices`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "ratings" }, spec: { hosts: ["ratings"], http: [{ route: [{ destination: { host: "ratings" } }] }] } }),
  });
  assert.equal(res.status, 201);
  rmSync(join(config, "reviews", "destination-rule.yml"));
  await until("the DestinationRule to be deleted", async () => cp.store.get("DestinationRule", "default", "reviews") === undefined);
  assert.ok(logs.some((l) => l.includes("deleted DestinationRule/default/reviews (no longer in reviews/destination-rule.yml)")));
  assert.ok(cp.store.get("VirtualService", "default", "ratings"), "the API's resource stays");
  assert.ok(cp.store.get("VirtualService", "default", "reviews"), "the other file's resource stays");
});

test("a missing directory is refused at start with the fix", async () => {
  const other = new ControlPlane({ stateDir: join(dir, "state2"), xdsPort: 0, apiPort: 0, otlpPort: 0, configDir: join(dir, "nope"), log: () => {} });
  await assert.rejects(other.start(), /--config-dir .*nope is not a directory; create it/);
  await other.stop();
});
