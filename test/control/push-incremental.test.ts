// Incremental pushes give what a full translation gives: a planner keeps one build cache over a sequence of changes
// (a route, a DestinationRule, endpoints, a new service, a removed one, a Sidecar, a wildcard host), translates
// only the proxies it says are affected, and after every step each proxy's configuration equals a fresh translation
// of the same state with no cache. Also: which changes are host-scoped, and that unaffected proxies are skipped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseDocuments } from "../../src/api/load.js";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { PushPlanner } from "../../src/control/push/push-planner.js";
import { translate, type TranslateInput } from "../../src/control/translate/translate.js";
import { SnapshotEncoder } from "../../src/control/snapshot-encoder.js";
import { GOLDEN_PROXIES, GOLDEN_WORKLOADS } from "../fixtures/translate-scenarios.js";

const settings: Partial<TranslateInput> = { tracing: { samplingPercent: 1, collector: { address: "127.0.0.1", port: 4318 } }, accessLog: { path: "/dev/stdout", json: false } };
const r = (kind: string, name: string, spec: Record<string, unknown>, namespace = "default"): IstioResource => ({ apiVersion: kind === "PeerAuthentication" ? "security.istio.io/v1" : "networking.istio.io/v1", kind, metadata: { name, namespace }, spec });

function bookinfo(): IstioResource[] {
  const dir = join("examples", "istio", "bookinfo");
  return ["destination-rule-all.yaml", "virtual-service-all-v1.yaml", "bookinfo-gateway.yaml"].flatMap((f) => parseDocuments(readFileSync(join(dir, f), "utf8"), f).resources)
    .map((x) => ({ apiVersion: x.apiVersion, kind: x.kind, metadata: { name: x.metadata.name, namespace: x.metadata.namespace }, spec: x.spec }) as IstioResource);
}

const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
const isProxyless = (p: Workload) => p.id.startsWith("grpc-");

interface Step {
  name: string;
  resources: IstioResource[];
  workloads: Workload[];
  /** Expected: a change pinned to hosts (true) or one that redoes everything (false). */
  scoped: boolean;
}

function base(): IstioResource[] {
  return [...bookinfo(), r("ServiceEntry", "db", { hosts: ["db.example.com"], resolution: "STATIC", ports: [{ number: 5432, name: "tcp", protocol: "TCP" }], endpoints: [{ address: "10.0.0.7" }] })];
}

function steps(): Step[] {
  const base0 = base();
  const reviewsVs = r("VirtualService", "reviews", { hosts: ["reviews"], http: [{ match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }, { route: [{ destination: { host: "reviews", subset: "v3" } }] }] });
  const replace = (list: IstioResource[], x: IstioResource) => [...list.filter((y) => !(y.kind === x.kind && y.metadata.name === x.metadata.name)), x];
  const s1 = replace(base0, reviewsVs);
  const s2 = replace(s1, r("DestinationRule", "ratings", { host: "ratings", trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: "x-user" } } }, subsets: [{ name: "v1", labels: { version: "v1" } }] }));
  const moved = GOLDEN_WORKLOADS.map((w) => (w.id === "ratings-v1" ? { ...w, inboundPort: 15199, ready: false } : w));
  const added = [...moved, { ...GOLDEN_WORKLOADS[0], id: "details-v2", name: "details-v2", service: "details", labels: { app: "details", version: "v2" }, upstreams: [] }];
  const s5 = [...s2, r("ServiceEntry", "api", { hosts: ["api.example.com"], location: "MESH_EXTERNAL", resolution: "DNS", ports: [{ number: 80, name: "http", protocol: "HTTP" }] })];
  const s6 = s5.filter((x) => x.metadata.name !== "db");
  const s7 = [...s6, r("Sidecar", "default", { egress: [{ hosts: ["./*"] }] })];
  const s8 = [...s7, r("VirtualService", "wild", { hosts: ["*.example.com"], http: [{ route: [{ destination: { host: "api.example.com" } }], timeout: "3s" }] })];
  return [
    { name: "a VirtualService changes", resources: s1, workloads: GOLDEN_WORKLOADS, scoped: true },
    { name: "a DestinationRule is added", resources: s2, workloads: GOLDEN_WORKLOADS, scoped: true },
    { name: "an endpoint moves and turns unready", resources: s2, workloads: moved, scoped: true },
    { name: "a workload is added", resources: s2, workloads: added, scoped: true },
    { name: "a ServiceEntry is added", resources: s5, workloads: added, scoped: true },
    { name: "a ServiceEntry is removed", resources: s6, workloads: added, scoped: true },
    { name: "a Sidecar is added", resources: s7, workloads: added, scoped: false },
    { name: "a wildcard VirtualService is added", resources: s8, workloads: added, scoped: false },
    { name: "the VirtualService goes back", resources: replace(s8, base0.find((x) => x.metadata.name === "reviews" && x.kind === "VirtualService")!), workloads: added, scoped: true },
  ];
}

test("every incremental push equals a fresh full translation, proxy by proxy", () => {
  const planner = new PushPlanner();
  const encoder = new SnapshotEncoder();
  const held = new Map<string, unknown>();
  const run = (resources: IstioResource[], workloads: Workload[]) => {
    const { index, changes } = planner.plan(resources, workloads);
    encoder.nextGeneration();
    let translated = 0;
    for (const proxy of GOLDEN_PROXIES) {
      if (!planner.affects(proxy.id, proxy, changes, isProxyless(proxy))) continue;
      const hosts = new Set<string>();
      const out = translate({ resources, workloads, proxy, index, hostsConsidered: hosts, proxyless: isProxyless(proxy), ...settings });
      encoder.snapshot(out, []);
      held.set(proxy.id, json(out));
      planner.configuredAs(proxy.id, proxy, hosts);
      translated++;
    }
    return { changes, translated };
  };
  const first = run(base(), GOLDEN_WORKLOADS);
  assert.equal(first.changes.full, true);
  for (const step of steps()) {
    const { changes, translated } = run(step.resources, step.workloads);
    assert.equal(!changes.full, step.scoped, `${step.name}: ${changes.full ? `full (${changes.reason})` : `hosts ${[...changes.hosts].join(", ")}`}`);
    assert.ok(translated > 0, `${step.name}: some proxy is affected`);
    for (const proxy of GOLDEN_PROXIES) {
      const fresh = json(translate({ resources: step.resources, workloads: step.workloads, proxy, proxyless: isProxyless(proxy), ...settings }));
      assert.deepEqual(held.get(proxy.id), fresh, `${step.name}: ${proxy.id} holds what a full translation gives`);
    }
  }
});

test("a change to a host an explicit sidecar does not use skips it; nothing changed skips everyone", () => {
  const planner = new PushPlanner();
  const resources = bookinfo();
  const configure = (rs: IstioResource[]) => {
    const { index, changes } = planner.plan(rs, GOLDEN_WORKLOADS);
    const done: string[] = [];
    for (const proxy of GOLDEN_PROXIES) {
      if (!planner.affects(proxy.id, proxy, changes, isProxyless(proxy))) continue;
      const hosts = new Set<string>();
      translate({ resources: rs, workloads: GOLDEN_WORKLOADS, proxy, index, hostsConsidered: hosts, proxyless: isProxyless(proxy) });
      planner.configuredAs(proxy.id, proxy, hosts);
      done.push(proxy.id);
    }
    return done;
  };
  assert.equal(configure(resources).length, GOLDEN_PROXIES.length);
  assert.deepEqual(configure(resources), [], "nothing changed: no proxy is translated");
  // httpbin: only sleep (its upstream) among the explicit sidecars, plus those told about every service.
  const done = configure([...resources, r("VirtualService", "httpbin", { hosts: ["httpbin"], http: [{ route: [{ destination: { host: "httpbin" } }], timeout: "5s" }] })]);
  assert.ok(done.includes("sleep-v1"));
  assert.ok(!done.includes("productpage-v1") && !done.includes("reviews-v3"), `explicit sidecars that do not call httpbin are skipped: ${done.join(", ")}`);
  assert.ok(done.includes("reviews-v2") && done.includes("grpc-client-v1"), "transparent sidecars and proxyless clients are translated");
});

test("an endpoint change is an EDS-only push: only the endpoint type's version moves, nothing is re-encoded", () => {
  const planner = new PushPlanner();
  const encoder = new SnapshotEncoder();
  const proxy = GOLDEN_PROXIES.find((p) => p.id === "reviews-v2")!;
  const snapshot = (workloads: Workload[]) => {
    const { index, changes } = planner.plan(bookinfo(), workloads);
    encoder.nextGeneration();
    const snap = encoder.snapshot(translate({ resources: bookinfo(), workloads, proxy, index, ...settings }), []);
    return { snap, changes };
  };
  const before = snapshot(GOLDEN_WORKLOADS).snap;
  const encoded = encoder.stats.encoded;
  const { snap: after, changes } = snapshot(GOLDEN_WORKLOADS.map((w) => (w.id === "ratings-v1" ? { ...w, inboundPort: 15199 } : w)));
  assert.deepEqual([...changes.hosts], ["ratings.default.svc.cluster.local"]);
  for (const kind of ["cluster", "listener", "route"] as const) assert.equal(after.versions[kind], before.versions[kind], `${kind} unchanged`);
  assert.notEqual(after.versions.endpoint, before.versions.endpoint);
  assert.equal(encoder.stats.encoded - encoded, 2, "only the two assignments holding the moved endpoint (ratings', and its subset v1's) are encoded");
});
