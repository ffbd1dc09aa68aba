// KubeStore against the API-server double: reads from the reflected cache, writes through the API (create,
// replace with and without a version, delete) read back at once, conflicts and absences as the file store reports
// them, and a kind whose CRD is missing named with how to install it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { KubeApiDouble, waitFor } from "../../../test/fixtures/kube-api-double.js";
import type { IstioResource } from "../../api/resource.js";
import { ConflictError, NotFoundError, type StoreEvent } from "../store/config-store.js";
import { KubeClient } from "./client.js";
import { KubeStore } from "./kube-store.js";

const api = new KubeApiDouble();
const client = new KubeClient({ server: await api.start(), namespace: "default", source: "test" });
const lines: string[] = [];
api.failures.set("/apis/security.istio.io/v1/requestauthentications", { code: 404, reason: "NotFound", message: "the server could not find the requested resource" });
api.put("/apis/networking.istio.io/v1/virtualservices", { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "pre", namespace: "a", managedFields: [{ manager: "kubectl" }] }, spec: { hosts: ["pre"] } });
const store = new KubeStore(client, { log: (l) => lines.push(l), initialBackoffMs: 20, maxBackoffMs: 50 });
const events: StoreEvent[] = [];
store.on("event", (e: StoreEvent) => events.push(e));
store.start();
after(async () => {
  await store.stop();
  client.close();
  await api.stop();
});

const vs = (name: string, hosts: string[]): IstioResource => ({ apiVersion: "networking.istio.io/v1beta1", kind: "VirtualService", metadata: { name, namespace: "a" }, spec: { hosts } } as IstioResource);

test("a missing CRD is named with how to install it; the others are listed", async () => {
  await assert.rejects(store.waitSynced(300), /requestauthentications\.security\.istio\.io is not installed .*trellis install-crds/);
  assert.ok(lines.some((l) => /Istio's CRD requestauthentications\.security\.istio\.io is not installed.*retrying in/.test(l)));
  api.failures.delete("/apis/security.istio.io/v1/requestauthentications");
  await store.waitSynced(10_000);
  const pre = store.get("VirtualService", "a", "pre")!;
  assert.deepEqual(pre.spec, { hosts: ["pre"] });
  assert.equal((pre.metadata as unknown as Record<string, unknown>).managedFields, undefined, "bookkeeping is left out");
});

test("writes go through the API and read back at once, at the version they were written in", async () => {
  const created = await store.put(vs("r", ["r1"]), { mustNotExist: true });
  assert.deepEqual(store.get("VirtualService", "a", "r")?.spec, { hosts: ["r1"] });
  assert.ok(api.requests.some((q) => q.method === "POST" && q.path === "/apis/networking.istio.io/v1beta1/namespaces/a/virtualservices"));
  await assert.rejects(Promise.resolve(store.put(vs("r", ["x"]), { mustNotExist: true })), ConflictError);
  await assert.rejects(Promise.resolve(store.put(vs("r", ["x"]), { expectVersion: "1" })), /changed since version 1/);
  const replaced = await store.put(vs("r", ["r2"]), { expectVersion: created.metadata.resourceVersion });
  assert.deepEqual(store.get("VirtualService", "a", "r")?.spec, { hosts: ["r2"] });
  await store.put(vs("r", ["r3"]));
  assert.notEqual(store.get("VirtualService", "a", "r")?.metadata.resourceVersion, replaced.metadata.resourceVersion);
  await store.put(vs("s", ["s1"]));
  assert.deepEqual(store.list("VirtualService", "a").map((r) => r.metadata.name), ["pre", "r", "s"]);
  const deleted = await store.delete("VirtualService", "a", "s");
  assert.equal(deleted.metadata.name, "s");
  assert.equal(store.get("VirtualService", "a", "s"), undefined);
  await assert.rejects(Promise.resolve(store.delete("VirtualService", "a", "s")), NotFoundError);
  // The watch then delivers the same writes: no second event for a version already seen.
  await waitFor("the watch to catch up", () => api.requests.filter((q) => q.query.watch === "true").length >= 9);
  const before = events.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(events.length, before);
  assert.deepEqual(events.filter((e) => e.object.metadata.name === "s").map((e) => e.type), ["ADDED", "DELETED"]);
});

test("changes made by others (kubectl) arrive as events", async () => {
  api.put("/apis/security.istio.io/v1/peerauthentications", { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", namespace: "istio-system" }, spec: { mtls: { mode: "STRICT" } } });
  await waitFor("the PeerAuthentication", () => !!store.get("PeerAuthentication", "istio-system", "default"));
  assert.ok(events.some((e) => e.type === "ADDED" && e.object.kind === "PeerAuthentication"));
  assert.ok(store.version() > 0);
});
