// Locality load balancing in translation: where a workload's locality comes from, EDS grouped by locality, and
// localityLbSetting (distribute, failover, failoverPriority; MeshConfig, DestinationRule, port and subset level).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import { formatProblems } from "../../src/api/format-rules.js";
import { validateResource } from "../../src/api/analyze.js";
import { workloadFromNode, type Workload } from "../../src/control/registry/registry.js";
import { serviceEntryServices, workloadEntriesOf } from "../../src/control/registry/service-entries.js";
import { parseMeshConfig } from "../../src/control/mesh-config.js";
import { PushIndex } from "../../src/control/push/push-index.js";
import { translate, type ProxyResources } from "../../src/control/translate/translate.js";
import type { LocalityLbSetting } from "../../src/control/translate/locality-lb.js";
import { parseMessage } from "../../src/xds/resource.js";

function wl(name: string, locality: string, extra: Partial<Workload> = {}): Workload {
  return { id: name, name, namespace: "default", service: "backend", labels: { app: "backend", version: "v1" }, serviceAccount: "backend", address: "127.0.0.1", inboundPort: 15000 + name.length, servicePorts: [{ port: 8080, name: "http", protocol: "HTTP" }, { port: 9090, name: "http-admin", protocol: "HTTP" }], upstreams: [], ready: true, sidecar: true, mtls: false, interception: "NONE", locality, ...extra };
}

function client(locality: string, labels: Record<string, string> = {}): Workload {
  return { ...wl(`client-${locality}`, locality), service: "client", labels: { app: "client", ...labels }, servicePorts: [], upstreams: [{ host: "backend", port: 8080, localPort: 19080 }, { host: "backend", port: 9090, localPort: 19090 }] };
}

// One backend per locality: same subzone, same zone, same region, and two other regions.
const backends = [wl("a", "r1/z1/s1"), wl("bb", "r1/z1/s2"), wl("ccc", "r1/z2/s1"), wl("dddd", "r2/z1/s1"), wl("eeeee", "r3/z1/s1")];
const r = (kind: string, name: string, spec: Record<string, unknown>): IstioResource => ({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace: "default" }, spec });
const dr = (trafficPolicy: Record<string, unknown>, extra: Record<string, unknown> = {}) => r("DestinationRule", "backend", { host: "backend", trafficPolicy, ...extra });
const OUTLIER = { outlierDetection: { consecutive5xxErrors: 3, interval: "1s" } };

interface Group { locality?: { region: string; zone: string; sub_zone: string }; priority?: number; load_balancing_weight: number; lb_endpoints: unknown[] }

function run(resources: IstioResource[], proxy: Workload, localityLbSetting?: LocalityLbSetting): ProxyResources {
  const out = translate({ resources, workloads: [...backends, proxy], proxy, localityLbSetting });
  for (const c of out.clusters) assert.ok(parseMessage("envoy.config.cluster.v3.Cluster", c).ok);
  for (const e of out.endpoints) assert.ok(parseMessage("envoy.config.endpoint.v3.ClusterLoadAssignment", e).ok, JSON.stringify(e));
  return out;
}

function groups(out: ProxyResources, cluster = "outbound|8080||backend.default.svc.cluster.local"): Group[] {
  return out.endpoints.find((e) => e.cluster_name === cluster)!.endpoints as Group[];
}

/** locality -> priority (absent = 0) */
function priorities(out: ProxyResources, cluster?: string): Record<string, number> {
  return Object.fromEntries(groups(out, cluster).map((g) => [`${g.locality!.region}/${g.locality!.zone}/${g.locality!.sub_zone}`, g.priority ?? 0]));
}

function weighted(out: ProxyResources, cluster = "outbound|8080||backend.default.svc.cluster.local"): boolean {
  const c = out.clusters.find((x) => x.name === cluster)!;
  return (c.common_lb_config as { locality_weighted_lb_config?: unknown } | undefined)?.locality_weighted_lb_config !== undefined;
}

test("a workload's locality: node locality first, then the istio-locality label, then topology labels; WorkloadEntry's field", () => {
  const node = (labels: Record<string, string>, locality?: string) => workloadFromNode("n", { SERVICE: "s", LABELS: labels }, locality).workload!.locality;
  assert.equal(node({ "istio-locality": "r9.z9.s9" }, "r1/z1/s1"), "r1/z1/s1");
  assert.equal(node({ "istio-locality": "r9.z9.s9" }), "r9/z9/s9");
  assert.equal(node({ "topology.kubernetes.io/region": "eu", "topology.kubernetes.io/zone": "eu-1a" }), "eu/eu-1a/");
  assert.equal(node({}), "");
  const we = r("WorkloadEntry", "vm", { address: "127.0.0.2", labels: { app: "backend" }, locality: "r2/z2" });
  assert.equal(workloadEntriesOf({ name: "backend", namespace: "default", ports: [{ port: 8080 }] }, [we])[0].locality, "r2/z2/");
  const se = r("ServiceEntry", "ext", { hosts: ["ext.example"], ports: [{ number: 80, name: "http", protocol: "HTTP" }], resolution: "STATIC", endpoints: [{ address: "127.0.0.3", locality: "r3/z3/s3" }] });
  assert.equal(serviceEntryServices([se])[0].endpoints[0].locality, "r3/z3/s3");
});

test("EDS groups endpoints by locality, weighted by endpoint count; without a rule no priorities and no locality weighting", () => {
  const out = run([], client("r1/z1/s1"));
  const g = groups(out);
  assert.equal(g.length, 5);
  assert.deepEqual(g[0].locality, { region: "r1", zone: "z1", sub_zone: "s1" });
  assert.ok(g.every((x) => x.load_balancing_weight === 1 && x.priority === undefined && x.lb_endpoints.length === 1));
  assert.equal(weighted(out), false);
});

test("failover priorities follow the proxy's locality (subzone, zone, region, other), only with outlier detection", () => {
  const rule = dr({ ...OUTLIER });
  assert.deepEqual(priorities(run([rule], client("r1/z1/s1"))), { "r1/z1/s1": 0, "r1/z1/s2": 1, "r1/z2/s1": 2, "r2/z1/s1": 3, "r3/z1/s1": 3 });
  // Priorities are per proxy: another locality sees another order (and no gaps: r1/z2 is 1 here).
  assert.deepEqual(priorities(run([rule], client("r2/z1/s1"))), { "r2/z1/s1": 0, "r1/z1/s1": 1, "r1/z1/s2": 1, "r1/z2/s1": 1, "r3/z1/s1": 1 });
  assert.deepEqual(Object.values(priorities(run([dr({})], client("r1/z1/s1")))), [0, 0, 0, 0, 0], "no outlier detection: no failover");
  assert.deepEqual(Object.values(priorities(run([dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { enabled: false } } })], client("r1/z1/s1")))), [0, 0, 0, 0, 0], "enabled: false");
  assert.deepEqual(Object.values(priorities(run([rule], client("r1/z1/s1"), { enabled: false }))), [0, 0, 0, 0, 0], "MeshConfig enabled: false");
  assert.equal(weighted(run([rule], client("r1/z1/s1"))), false, "default failover needs no locality weights");
});

test("failover names the region to fail over to: it comes before the other regions", () => {
  const out = run([dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { failover: [{ from: "r1", to: "r3" }] } } })], client("r1/z1/s1"));
  assert.deepEqual(priorities(out), { "r1/z1/s1": 0, "r1/z1/s2": 1, "r1/z2/s1": 2, "r3/z1/s1": 3, "r2/z1/s1": 4 });
  assert.equal(weighted(out), true);
});

test("failoverPriority orders endpoints by the labels they share with the proxy (topology labels from localities)", () => {
  const v2 = wl("ffffff", "r2/z1/s1", { labels: { app: "backend", version: "v2" } });
  const proxy = client("r1/z1/s1", { version: "v2" });
  const out = translate({ resources: [dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { failoverPriority: ["version", "topology.kubernetes.io/region"] } } })], workloads: [...backends, v2, proxy], proxy });
  const g = groups(out);
  // Every v1 differs at the first label (priority 2); the v2 endpoint only by region (1). Compacted: 0 and 1.
  assert.equal(g.filter((x) => (x.priority ?? 0) === 0).length, 1);
  assert.equal(g.filter((x) => x.priority === 1).length, 5);
  assert.equal(g.filter((x) => x.priority === 1).every((x) => x.lb_endpoints.length === 1), true);
  assert.equal(g.find((x) => x.locality!.region === "r2" && (x.priority ?? 0) === 0)!.lb_endpoints.length, 1, "the v2 endpoint is first");
});

test("distribute sets locality weights relative to the proxy's locality; unlisted localities get no traffic", () => {
  const setting = { distribute: [{ from: "r1/z1/*", to: { "r1/z1/*": 80, "r2/*": 20 } }] };
  const out = run([dr({ loadBalancer: { localityLbSetting: setting } })], client("r1/z1/s1"));
  const g = groups(out);
  // r1/z1/* matches two localities of one endpoint each: 80 split in proportion, rounded up.
  assert.deepEqual(g.map((x) => [`${x.locality!.region}/${x.locality!.zone}/${x.locality!.sub_zone}`, x.load_balancing_weight]), [["r1/z1/s1", 40], ["r1/z1/s2", 40], ["r2/z1/s1", 20]]);
  assert.equal(weighted(out), true);
  // A proxy the rule's `from` does not match keeps the plain weights.
  assert.deepEqual(groups(run([dr({ loadBalancer: { localityLbSetting: setting } })], client("r3/z1/s1"))).map((x) => x.load_balancing_weight), [1, 1, 1, 1, 1]);
  // MeshConfig's setting applies when no DestinationRule sets one, and the rule's wins over it.
  assert.equal(groups(run([], client("r1/z1/s1"), setting)).length, 3);
  assert.equal(groups(run([dr({ loadBalancer: { localityLbSetting: { enabled: false } } })], client("r1/z1/s1"), setting)).length, 5);
});

test("portLevelSettings and subsets carry their own localityLbSetting and outlier detection into that cluster only", () => {
  const rule = dr({ portLevelSettings: [{ port: { number: 9090 }, ...OUTLIER }] }, { subsets: [{ name: "v1", labels: { version: "v1" }, trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "*", to: { "r1/*": 100 } }] } } } }] });
  const out = run([rule], client("r1/z1/s1"));
  assert.deepEqual(Object.values(priorities(out)), [0, 0, 0, 0, 0], "port 8080: no outlier detection");
  assert.deepEqual(priorities(out, "outbound|9090||backend.default.svc.cluster.local")["r2/z1/s1"], 3);
  assert.equal(groups(out, "outbound|8080|v1|backend.default.svc.cluster.local").length, 3, "the subset distributes to r1 only");
  assert.equal(weighted(out, "outbound|8080|v1|backend.default.svc.cluster.local"), true);
  assert.equal(weighted(out), false);
});

test("proxies of one locality share EDS output through the push index's cache; another locality gets its own", () => {
  const rule = dr({ ...OUTLIER });
  const a = client("r1/z1/s1");
  const b = { ...client("r1/z1/s1"), id: "client-2", name: "client-2" };
  const c = client("r2/z1/s1");
  const workloads = [...backends, a, b, c];
  const index = new PushIndex([rule], workloads);
  const eds = (proxy: Workload) => groups(translate({ resources: [rule], workloads, proxy, index }));
  assert.equal(eds(a), eds(b));
  assert.notEqual(eds(a), eds(c));
  assert.deepEqual(eds(c), groups(translate({ resources: [rule], workloads, proxy: c })));
});

test("validation: distribute weights sum to 100 per from; distribute and failover exclude each other; errors name the field", () => {
  const problems = (setting: unknown) => formatProblems("DestinationRule", { host: "backend", trafficPolicy: { loadBalancer: { localityLbSetting: setting } } }).map((p) => `${p.code} ${p.message}`);
  assert.deepEqual(problems({ distribute: [{ from: "r1/*", to: { "r1/*": 80, "r2/*": 20 } }] }), []);
  assert.deepEqual(problems({ distribute: [{ from: "r1/*", to: { "r1/*": 70, "r2/*": 20 } }] }), ["TRL0020 spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: the weights sum to 90; they must sum to 100"]);
  assert.match(problems({ distribute: [{ from: "r1", to: { r1: 100 } }], failover: [{ from: "r1", to: "r2" }] })[0], /^TRL0019 spec\.trafficPolicy\.loadBalancer\.localityLbSetting\.distribute: distribute and failover cannot be set together/);
  assert.match(problems({ failover: [{ from: "r1", to: "r1" }] })[0], /failover\[0\]\.to: must differ/);
  assert.match(problems({ distribute: [{ from: "r*/z1", to: { r1: 100 } }] })[0], /distribute\[0\]\.from: .*"\*" only as its whole last part/);
  const port = formatProblems("DestinationRule", { host: "b", subsets: [{ name: "v1", trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, loadBalancer: { localityLbSetting: { distribute: [{ from: "*", to: { a: 50 } }] } } }] } }] });
  assert.equal(port[0]?.path, "spec.subsets[0].trafficPolicy.portLevelSettings[0].loadBalancer.localityLbSetting.distribute[0].to");
  // A REST write runs the same checks, so the control plane refuses such a rule (schema first: the fields exist).
  const refused = validateResource(dr({ loadBalancer: { localityLbSetting: { distribute: [{ from: "r1/*", to: { "r1/*": 50 } }] } } }));
  assert.deepEqual(refused.map((f) => [f.code, f.level, f.path]), [["TRL0020", "Error", "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to"]]);
  const mesh = parseMeshConfig("localityLbSetting:\n  distribute:\n  - from: r1/*\n    to: {r1/*: 60}\n  bogus: 1\n");
  assert.ok(!mesh.ok);
  assert.deepEqual(mesh.errors, ["mesh config: localityLbSetting.distribute[0].to: the weights sum to 60; they must sum to 100", "mesh config: localityLbSetting.bogus is not a localityLbSetting field (enabled, distribute, failover, failoverPriority are)"]);
  const good = parseMeshConfig("localityLbSetting: {enabled: true, failover: [{from: r1, to: r2}]}");
  assert.ok(good.ok && good.value.localityLbSetting?.failover?.[0].to === "r2");
});
