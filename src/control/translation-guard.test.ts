// The translation guard: a resource that throws alone is skipped for every proxy until it changes; a failure that
// remains without it leaves the proxy marked (what proxy-status shows) until a translation succeeds again.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IstioResource } from "../api/resource.js";
import { TranslationGuard } from "./translation-guard.js";

const res = (name: string, version = "1") => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, namespace: "default", resourceVersion: version }, spec: {} }) as IstioResource;

test("a resource that throws alone is skipped and reported; the others translate", () => {
  const logs: string[] = [];
  const guard = new TranslationGuard((l) => logs.push(l));
  const translate = (rs: IstioResource[]) => {
    if (rs.some((r) => r.metadata.name === "poison")) throw new Error("Cannot read properties of undefined (reading 'http')");
    return rs.map((r) => r.metadata.name);
  };
  const all = [res("a"), res("poison"), res("b")];
  assert.deepEqual(guard.run("p1", all, translate), ["a", "b"]);
  assert.deepEqual(guard.run("p2", all, translate), ["a", "b"], "known bad: skipped without a second search");
  assert.deepEqual(guard.skipped(all).map((s) => s.name), ["poison"]);
  assert.equal(guard.errorOf("p1"), undefined);
  assert.equal(logs.filter((l) => l.includes("skipping VirtualService default/poison")).length, 1);
  assert.deepEqual(guard.skipped([res("a"), res("poison", "2")]), [], "a changed resource is tried again");
});

test("a failure no single resource explains marks the proxy until a translation succeeds", () => {
  const guard = new TranslationGuard(() => {});
  let broken = true;
  const translate = (rs: IstioResource[]) => {
    if (broken && rs.length > 1) throw new Error("two together break");
    return rs.length;
  };
  assert.equal(guard.run("p1", [res("a"), res("b")], translate), undefined);
  assert.match(guard.errorOf("p1") ?? "", /cannot be built: two together break; it keeps the last configuration/);
  broken = false;
  assert.equal(guard.run("p1", [res("a"), res("b")], translate), 2);
  assert.equal(guard.errorOf("p1"), undefined);
});
