// The Kubernetes client against a loopback HTTP server speaking the API server's wire shapes: kubeconfig loading,
// JSON requests, watch lines split across chunks, Status errors naming the verb and resource.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeApiError, KubeClient, type WatchEvent } from "./client.js";
import { KubeconfigError, loadKubeconfig } from "./kubeconfig.js";

const server = createServer((req, res) => {
  if (req.headers.authorization !== "Bearer t0ken") {
    res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", reason: "Unauthorized", message: "Unauthorized" }));
    return;
  }
  const url = new URL(req.url!, "http://x");
  if (url.pathname === "/api/v1/namespaces/ns1/pods" && url.searchParams.get("watch") === "true") {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"BOOK');
    setTimeout(() => res.end('MARK","object":{"metadata":{"name":"","resourceVersion":"7"}}}\n'), 20);
    return;
  }
  if (url.pathname === "/api/v1/services") {
    res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", reason: "Forbidden", message: 'services is forbidden: User "x" cannot list resource "services"' }));
    return;
  }
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ metadata: { name: "ok" }, path: url.pathname }));
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
after(() => server.close());
const port = (server.address() as { port: number }).port;
const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const kubeconfig = join(dir, "config");
writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
current-context: test
contexts: [{name: test, context: {cluster: c, user: u, namespace: ns1}}]
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]
users: [{name: u, user: {token: t0ken}}]
`);
const client = new KubeClient(loadKubeconfig(kubeconfig));
after(() => client.close());

test("kubeconfig: current context, namespace and token are read", async () => {
  assert.equal(client.namespace, "ns1");
  const obj = await client.get<{ path: string }>("/api/v1/namespaces/ns1/pods/a");
  assert.equal(obj.path, "/api/v1/namespaces/ns1/pods/a");
});

test("watch events are delivered whole even when a line spans chunks", async () => {
  const events: WatchEvent[] = [];
  await client.watch("/api/v1/namespaces/ns1/pods", { allowWatchBookmarks: true }, (e) => events.push(e));
  assert.deepEqual(events.map((e) => e.type), ["ADDED", "BOOKMARK"]);
  assert.equal(events[1].object.metadata.resourceVersion, "7");
});

test("a 403 names the verb, the resource and what to grant", async () => {
  const err = await client.get("/api/v1/services").catch((e: unknown) => e);
  assert.ok(err instanceof KubeApiError);
  assert.equal(err.code, "TRELLIS_KUBE_FORBIDDEN");
  assert.match(err.message, /^list services at the cluster scope: Forbidden: .*must grant "list" on "services"/);
});

test("an unreachable server is a clear error, not a crash", async () => {
  const c = new KubeClient({ server: "http://127.0.0.1:1", namespace: "default", source: "test" });
  const err = await c.get("/api/v1/namespaces/x/pods").catch((e: unknown) => e);
  c.close();
  assert.ok(err instanceof KubeApiError);
  assert.equal(err.code, "TRELLIS_KUBE_UNREACHABLE");
  assert.match(err.message, /list pods in namespace x: the API server http:\/\/127.0.0.1:1 .* cannot be reached/);
});

test("bad kubeconfigs name the field to fix", () => {
  const bad = join(dir, "bad");
  writeFileSync(bad, "apiVersion: v1\nkind: Config\ncontexts: []\n");
  assert.throws(() => loadKubeconfig(bad), (e: unknown) => e instanceof KubeconfigError && /current-context/.test(e.message));
  writeFileSync(bad, "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'https://x:1', insecure-skip-tls-verify: true}}]\n");
  assert.throws(() => loadKubeconfig(bad), /insecure-skip-tls-verify/);
  assert.throws(() => loadKubeconfig(join(dir, "missing")), /does not exist/);
});
