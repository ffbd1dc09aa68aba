// The committed CRD manifest: fresh (what scripts/gen-istio-crds.mjs writes now), one CRD per Istio kind Trellis
// serves with its versions and short names, and structural (every schema node typed or explicitly free-form), which
// the API server requires before it serves a CRD.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { KINDS } from "../../api/kinds.js";
import { loadCrds } from "./crds.js";

test("the manifest is what the generator writes from today's kinds and schemas", () => {
  const r = spawnSync(process.execPath, ["scripts/gen-istio-crds.mjs", "--check"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});

test("one structural CRD per Istio kind, with its served versions and short names", () => {
  const crds = loadCrds();
  const istio = KINDS.filter((k) => String(k.group).endsWith(".istio.io"));
  assert.deepEqual(crds.map((c) => c.metadata.name).sort(), istio.map((k) => `${k.plural}.${k.group}`).sort());
  const untyped: string[] = [];
  const walk = (node: Record<string, unknown>, path: string) => {
    if (!node.type && node["x-kubernetes-preserve-unknown-fields"] !== true) untyped.push(path);
    for (const [k, v] of Object.entries((node.properties as Record<string, Record<string, unknown>>) ?? {})) walk(v, `${path}.${k}`);
    if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
    if (node.additionalProperties && typeof node.additionalProperties === "object") walk(node.additionalProperties as Record<string, unknown>, `${path}{}`);
  };
  for (const crd of crds) {
    const spec = crd.spec as { names: { kind: string; shortNames?: string[] }; versions: Array<{ name: string; storage: boolean; schema: { openAPIV3Schema: Record<string, unknown> } }> };
    const info = istio.find((k) => k.kind === spec.names.kind)!;
    assert.deepEqual(spec.versions.map((v) => v.name), info.versions);
    assert.equal(spec.versions.filter((v) => v.storage).length, 1);
    assert.deepEqual(spec.names.shortNames ?? [], info.shortNames);
    for (const v of spec.versions) walk(v.schema.openAPIV3Schema, `${crd.metadata.name}/${v.name}`);
  }
  assert.deepEqual(untyped, []);
});
