// One source of truth: the real helm (built from helm.sh/helm/v4) lints the chart clean, and `helm template` and
// `trellis manifest generate` give the same objects for several value sets (only the managed-by label differs:
// Helm vs trellis), byte-equal ConfigMap data and config checksums included; both refuse bad values naming the
// field. Also: manifests/control-plane-rbac.yaml is the chart's RBAC rendered, and the chart's CRDs are the
// generated ones. No cluster: this file runs in seconds once helm is built.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { CHART_DIR, helmBinary, helmRunner, type HelmRunner } from "../fixtures/helm.js";
import { runTrellis } from "../fixtures/trellis-cli.js";

const helm = await helmBinary();
const skip = helm.ok ? false : helm.reason;

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/** Objects keyed kind/namespace/name, the one label that must differ removed. */
function objects(yamlText: string): Map<string, Obj> {
  const out = new Map<string, Obj>();
  for (const d of parseAllDocuments(yamlText)) {
    const o = d.toJS() as Obj | null;
    if (!o) continue;
    const key = `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    assert.ok(!out.has(key), `${key} rendered twice`);
    const managedBy = o.metadata.labels?.["app.kubernetes.io/managed-by"];
    if (managedBy) delete o.metadata.labels!["app.kubernetes.io/managed-by"];
    out.set(key, o);
  }
  return out;
}

describe("the chart under the real helm, and trellis manifest generate", { skip }, () => {
  let h: HelmRunner;
  const dir = mkdtempSync(join(tmpdir(), "trellis-helm-template-"));
  before(() => { h = helmRunner(helm.ok ? helm.path : ""); });
  after(() => { h?.close(); rmSync(dir, { recursive: true, force: true }); });

  it("helm lint --strict is clean", async () => {
    const r = await h.run(["lint", "--strict", CHART_DIR]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/, r.stdout);
  });

  const valuesFile = join(dir, "values.yaml");
  writeFileSync(valuesFile, [
    "injection:", "  nativeSidecars: true", "  proxyImage: registry.example/trellis/proxy:9.9.9",
    "pdb:", "  enabled: false", "resources:", "  limits:", "    cpu: 2", "    memory: 1Gi",
    "meshConfig:", "  accessLogEncoding: JSON", "  outboundTrafficPolicy:", "    mode: REGISTRY_ONLY",
  ].join("\n"));
  const valueSets: Array<[string, string[]]> = [
    ["the defaults", []],
    ["replicas, mesh config and tracing by --set", ["--set", "replicas=3", "--set", "meshConfig.accessLogFile=/dev/stdout,tracing.sampling=12", "--set", "tracing.collector=http://otel.observability:4318"]],
    ["a canary revision with the ingress gateway", ["--set", "revision=canary", "--set", "gateways.ingress.enabled=true", "--set", "image.tag=0.2.0"]],
    ["a values file", ["-f", valuesFile]],
  ];
  for (const [name, flags] of valueSets) {
    it(`same objects for ${name}`, async () => {
      const fromHelm = await h.run(["template", "trellis", CHART_DIR, "--namespace", "mesh-system", "--include-crds", ...flags]);
      assert.equal(fromHelm.code, 0, fromHelm.stderr);
      const fromTrellis = await runTrellis(["manifest", "generate", "--chart", CHART_DIR, "--namespace", "mesh-system", ...flags]);
      assert.equal(fromTrellis.code, 0, fromTrellis.stderr);
      const a = objects(fromHelm.stdout);
      const b = objects(fromTrellis.stdout);
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
      for (const [key, o] of a) assert.deepEqual(b.get(key), o, key);
      assert.ok(a.size > 20, `the render holds the CRDs and the control plane (${a.size} objects)`);
    });
  }

  it("both refuse bad values, naming the field", async () => {
    for (const [set, field] of [["replicas=0", "replicas"], ["injection.nativeSidecars=sometimes", "injection.nativeSidecars"], ["replicaCount=2", "replicaCount"]]) {
      const fromHelm = await h.run(["template", "trellis", CHART_DIR, "--set", set]);
      assert.notEqual(fromHelm.code, 0, `helm accepted ${set}`);
      assert.match(fromHelm.stderr, new RegExp(field.split(".").pop()!), fromHelm.stderr);
      const fromTrellis = await runTrellis(["manifest", "generate", "--set", set]);
      assert.equal(fromTrellis.code, 1, `trellis accepted ${set}`);
      assert.match(fromTrellis.stderr, new RegExp(`^  ${field.replace(".", "\\.")}: `, "m"), fromTrellis.stderr);
    }
  });

  it("manifests/control-plane-rbac.yaml is the chart's RBAC, and the chart's CRDs are the generated ones", async () => {
    const r = await runTrellis(["manifest", "generate", "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"]);
    assert.equal(r.code, 0, r.stderr);
    const committed = readFileSync("manifests/control-plane-rbac.yaml", "utf8");
    assert.equal(committed.slice(committed.indexOf("---\n")), r.stdout, "regenerate manifests/control-plane-rbac.yaml as its header says");
    assert.equal(readFileSync(join(CHART_DIR, "crds", "istio-crds.yaml"), "utf8"), readFileSync("manifests/crds/istio-crds.yaml", "utf8"), "run node scripts/gen-istio-crds.mjs");
  });
});
