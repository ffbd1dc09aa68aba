// The reflector's contract, against the API-server double: paginated list, live events, resume from the last
// resourceVersion (bookmarks advance it), relist after 410 with stale entries deleted, stalled watches reopened,
// and an unreachable server retried with backoff instead of crashing.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { KubeApiDouble, waitFor } from "../../../test/fixtures/kube-api-double.js";
import { KubeClient } from "./client.js";
import { Reflector, type ReflectorEvent } from "./reflector.js";

const api = new KubeApiDouble();
const server = await api.start();
const client = new KubeClient({ server, namespace: "default", source: "test" });
const reflectors: Reflector[] = [];
after(async () => {
  for (const r of reflectors) await r.stop();
  client.close();
  await api.stop();
});

const PODS = "/api/v1/pods";
const pod = (name: string, extra: Record<string, unknown> = {}) => ({ metadata: { name, namespace: "ns" }, ...extra });

function reflector(path: string, opts: Partial<ConstructorParameters<typeof Reflector>[1]> = {}): { r: Reflector; events: ReflectorEvent<unknown>[] } {
  const r = new Reflector(client, { path, pageSize: 2, initialBackoffMs: 20, maxBackoffMs: 100, ...opts });
  const events: ReflectorEvent<unknown>[] = [];
  r.on("event", (e: ReflectorEvent<unknown>) => events.push(e));
  reflectors.push(r);
  r.start();
  return { r, events };
}

test("lists every page, then follows adds, updates and deletes", async () => {
  for (const n of ["a", "b", "c", "d", "e"]) api.put(PODS, pod(n));
  const { r, events } = reflector(PODS);
  await r.waitSynced(10_000);
  assert.deepEqual(r.list().map((p) => p.metadata.name).sort(), ["a", "b", "c", "d", "e"]);
  assert.ok(api.requests.filter((q) => q.path === PODS && q.query.continue).length >= 2, "the list was paginated");
  await waitFor("the watch", () => api.openWatches > 0);
  api.put(PODS, pod("f"));
  api.put(PODS, pod("a", { spec: { v: 2 } }));
  api.remove(PODS, "ns", "b");
  await waitFor("three events", () => events.length >= 8);
  assert.deepEqual(events.slice(5).map((e) => `${e.type} ${(e.object as { metadata: { name: string } }).metadata.name}`), ["ADDED f", "MODIFIED a", "DELETED b"]);
  assert.equal(r.get("ns/b"), undefined);
  assert.deepEqual((r.get("ns/a") as unknown as { spec: unknown }).spec, { v: 2 });
  await r.stop();
});

test("a cut watch resumes from the last resourceVersion, a bookmark's included, without relisting", async () => {
  const path = "/api/v1/services";
  api.put(path, pod("s1"));
  const { r, events } = reflector(path);
  await r.waitSynced(10_000);
  await waitFor("the watch", () => api.requests.some((q) => q.path === path && q.query.watch === "true"));
  api.put("/api/v1/other", pod("x"));
  const bookmarkRv = api.version;
  api.bookmark();
  await waitFor("the bookmark", () => r.lastResourceVersion === bookmarkRv);
  api.cutWatches();
  api.put(path, pod("s2"));
  await waitFor("s2 after the reconnect", () => !!r.get("ns/s2"));
  const watches = api.requests.filter((q) => q.path === path && q.query.watch === "true");
  assert.equal(watches.at(-1)!.query.resourceVersion, bookmarkRv);
  assert.equal(watches.at(-1)!.query.allowWatchBookmarks, "true");
  assert.equal(r.stats.lists, 1);
  assert.deepEqual(events.map((e) => e.type), ["ADDED", "ADDED"]);
  await r.stop();
});

test("410 Gone after compaction: relists, and what was deleted meanwhile is deleted from the cache", async () => {
  const path = "/api/v1/endpoints";
  api.put(path, pod("keep"));
  api.put(path, pod("gone"));
  const { r, events } = reflector(path);
  await r.waitSynced(10_000);
  await waitFor("the watch", () => api.openWatches > 0);
  // The API server goes away; meanwhile things change and etcd compacts past the reflector's version.
  api.failures.set(path, { code: 503, reason: "ServiceUnavailable", message: "restarting" });
  api.cutWatches();
  api.remove(path, "ns", "gone");
  api.put(path, pod("new"));
  api.put(path, pod("keep", { spec: { v: 2 } }));
  api.compact();
  api.failures.delete(path);
  await waitFor("the relist", () => r.stats.gone >= 1 && r.stats.lists >= 2 && !!r.get("ns/new"));
  assert.deepEqual(r.list().map((p) => p.metadata.name).sort(), ["keep", "new"]);
  assert.deepEqual((r.get("ns/keep") as unknown as { spec: unknown }).spec, { v: 2 });
  assert.ok(events.some((e) => e.type === "DELETED" && (e.object as { metadata: { name: string } }).metadata.name === "gone"));
  await r.stop();
});

test("a watch held open past its timeout is taken as stalled and reopened", async () => {
  const path = "/api/v1/nodes";
  api.ignoreWatchTimeout = true;
  const { r } = reflector(path, { watchTimeoutSeconds: 1, stallGraceMs: 200 });
  await r.waitSynced(10_000);
  await waitFor("a stall", () => r.stats.stalls >= 1, 20_000);
  api.ignoreWatchTimeout = false;
  api.put(path, { metadata: { name: "n1" } });
  await waitFor("n1 on the reopened watch", () => !!r.get("n1"));
  await r.stop();
});

test("an unreachable API server is retried with backoff and named; stop() ends the loop", async () => {
  const lines: string[] = [];
  const dead = new KubeClient({ server: "http://127.0.0.1:1", namespace: "default", source: "test" });
  const r = new Reflector(dead, { path: PODS, initialBackoffMs: 10, maxBackoffMs: 40, log: (l) => lines.push(l) });
  r.start();
  await waitFor("three attempts", () => r.stats.errors >= 3);
  await assert.rejects(r.waitSynced(50), /cannot be reached/);
  assert.match(lines[0], /list pods at the cluster scope: the API server http:\/\/127\.0\.0\.1:1 \(test\) cannot be reached.*retrying in/);
  await r.stop();
  dead.close();
});

test("a 403 names the verb and resource the ClusterRole must grant", async () => {
  const path = "/apis/discovery.k8s.io/v1/endpointslices";
  api.failures.set(path, { code: 403, reason: "Forbidden", message: 'endpointslices.discovery.k8s.io is forbidden: User "trellis" cannot list resource "endpointslices"' });
  const lines: string[] = [];
  const r = new Reflector(client, { path, initialBackoffMs: 10, maxBackoffMs: 40, log: (l) => lines.push(l) });
  r.start();
  await waitFor("a refusal", () => lines.length > 0);
  await r.stop();
  api.failures.delete(path);
  assert.match(lines[0], /ClusterRole must grant "list" on "endpointslices"/);
});
