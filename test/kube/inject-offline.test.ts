// `trellis kube-inject` offline: a Deployment's pod template comes out exactly as the webhook's JSONPatch makes the
// same pod; other objects pass through; --meshConfigFile and --injectConfigFile apply; a pod the injector cannot
// describe exits 1 naming the annotation.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { admitInjection } from "../../src/control/kube/inject/inject-admission.js";
import { applyInjectValues, applyMeshConfig, defaultSettings } from "../../src/control/kube/inject/inject-settings.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-kube-inject-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const template = { metadata: { labels: { app: "reviews", version: "v1" }, annotations: { "traffic.sidecar.istio.io/excludeOutboundPorts": "5432" } }, spec: { serviceAccountName: "reviews", containers: [{ name: "reviews", image: "bookinfo/reviews", ports: [{ containerPort: 9080 }], readinessProbe: { tcpSocket: { port: 9080 } } }] } };
const manifest = `apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports: [{port: 9080, name: http}]
---
${JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "reviews-v1", namespace: "bookinfo" }, spec: { selector: { matchLabels: { app: "reviews" } }, template } })}
`;

function kubeInject(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ["dist/src/cli/main.js", "kube-inject", ...args], { encoding: "utf8", input });
}

/** What the webhook would make of the same pod: its JSONPatch applied to it. */
function viaWebhook(pod: typeof template, settings = defaultSettings()): Record<string, Record<string, unknown>> {
  const res = admitInjection({ uid: "x", kind: { group: "", version: "v1", kind: "Pod" }, namespace: "bookinfo", object: structuredClone(pod) }, settings);
  const out = structuredClone(pod) as unknown as Record<string, Record<string, unknown>>;
  for (const op of JSON.parse(Buffer.from(res.patch!, "base64").toString()) as Array<{ path: string; value: unknown }>) {
    const [, section, key] = op.path.split("/");
    out[section][key] = op.value;
  }
  return out;
}

test("a Deployment's template comes out as the webhook makes the pod; the Service passes through", () => {
  const file = join(dir, "reviews.yaml");
  writeFileSync(file, manifest);
  const r = kubeInject(["-f", file]);
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(docs.length, 2);
  assert.deepEqual(docs[0], { apiVersion: "v1", kind: "Service", metadata: { name: "reviews" }, spec: { ports: [{ port: 9080, name: "http" }] } });
  assert.deepEqual(docs[1].spec.template, viaWebhook(template));
  assert.deepEqual(docs[1].spec.template.spec.initContainers[0].args.slice(-2), ["-o", "5432"]);
});

test("--meshConfigFile and --injectConfigFile apply, as the control plane's --inject-values does", () => {
  const mesh = join(dir, "mesh.yaml");
  const values = join(dir, "values.yaml");
  writeFileSync(mesh, "defaultConfig:\n  discoveryAddress: istiod.mesh.svc:15012\n  holdApplicationUntilProxyStarts: true\n");
  writeFileSync(values, "global:\n  proxy:\n    image: registry.example/trellis/proxy:2\n");
  const r = kubeInject(["-f", "-", "--meshConfigFile", mesh, "--injectConfigFile", values], manifest);
  assert.equal(r.status, 0, r.stderr);
  const dep = parseAllDocuments(r.stdout)[1].toJS() as { spec: { template: unknown } };
  const settings = applyMeshConfig(applyInjectValues(defaultSettings(), "global:\n  proxy:\n    image: registry.example/trellis/proxy:2\n", "v"), "defaultConfig:\n  discoveryAddress: istiod.mesh.svc:15012\n  holdApplicationUntilProxyStarts: true\n", "m");
  assert.deepEqual(dep.spec.template, viaWebhook(template, settings));
  assert.match(r.stdout, /image: registry.example\/trellis\/proxy:2/);
});

test("refusals exit 1 naming the object and the annotation; bad files name the flag", () => {
  const bad = manifest.replace('"5432"', '"postgres"');
  const r = kubeInject(["-f", "-"], bad);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /stdin: Deployment reviews-v1: annotation traffic.sidecar.istio.io\/excludeOutboundPorts: "postgres" is not a port number/);
  const badMesh = join(dir, "bad-mesh.yaml");
  writeFileSync(badMesh, "defaultConfig:\n  concurrency: 4\n");
  const m = kubeInject(["-f", "-", "--meshConfigFile", badMesh], manifest);
  assert.equal(m.status, 1);
  assert.match(m.stderr, /--meshConfigFile .*bad-mesh.yaml: defaultConfig.concurrency is not a ProxyConfig field the Trellis sidecar honours/);
  assert.equal(kubeInject([]).status, 2);
});
