// The Bookinfo demo as a user runs it: `trellis demo`, the product page through the mesh with reviews v1/v2/v3 in
// turn, Istio's traffic, security and telemetry tasks applied with `trellis apply`, proxy-status, and a clean stop.
// The same suite runs in explicit mode and, as root, in transparent mode (network namespaces and iptables).
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test as nodeTest } from "node:test";

export function bookinfoSuite(mode: { transparent: boolean; skip?: string | false }): void {
const { transparent } = mode;
const stateDir = mkdtempSync(join(tmpdir(), "trellis-demo-"));
let demo: ChildProcess;
let productpage = "";
let api = "";
const test = (name: string, fn: () => unknown) => nodeTest(name, { skip: mode.skip }, fn as () => Promise<void>);

before(async () => {
  if (mode.skip) return;
  demo = spawn(process.execPath, ["dist/src/cli/main.js", "demo", "--state-dir", stateDir, "--xds-port", "0", "--api-port", "0", "--otlp-port", "0", "--scrape-interval", "1s", "--console-port", "0", "--traffic", "0", ...(transparent ? ["--transparent"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
  // The demo's own log, kept (bounded) to explain a start that fails.
  let log = "";
  demo.stderr!.on("data", (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the demo did not come up: ${out}\n--- its log:\n${log}`)), 60_000);
    demo.stdout!.on("data", (d) => {
      out += d;
      const p = /Bookinfo is ready: (http:\/\/\S+\/productpage)/.exec(out);
      const a = /TRELLIS_CONTROL=(\S+)\)/.exec(out);
      if (p && a) {
        productpage = p[1];
        api = a[1];
        clearTimeout(timer);
        resolve();
      }
    });
    demo.once("exit", (code) => reject(new Error(`trellis demo exited with ${code}: ${out}\n--- its log:\n${log}`)));
  });
});

after(async () => {
  if (demo && demo.exitCode === null) {
    demo.kill("SIGTERM");
    await new Promise((r) => demo.once("exit", r));
  }
  rmSync(stateDir, { recursive: true, force: true });
});

async function page(cookie?: string): Promise<string> {
  const res = await fetch(productpage, { headers: cookie ? { cookie } : {} });
  assert.equal(res.status, 200);
  return res.text();
}

/** Which reviews version rendered the page: red stars (v3), black stars (v2), or none (v1). */
function version(html: string): "v1" | "v2" | "v3" {
  if (/color:\s*red/.test(html)) return "v3";
  if (/color:\s*black/.test(html)) return "v2";
  return "v1";
}

/**
 * A plaintext request straight to a workload's sidecar, from outside the mesh: from the host in explicit mode; in
 * transparent mode from the mesh bridge's hub namespace, which no sidecar intercepts.
 */
async function plainGet(w: { address: string; inboundPort: number }, path: string): Promise<number | "refused"> {
  if (!transparent) return fetch(`http://127.0.0.1:${w.inboundPort}${path}`).then((r) => r.status, () => "refused" as const);
  const script = `fetch("http://${w.address}:${w.inboundPort}${path}").then((r) => console.log(r.status), () => console.log("refused"))`;
  const r = spawnSync("ip", ["netns", "exec", "trellis-hub", process.execPath, "-e", script], { encoding: "utf8", timeout: 10_000 });
  const out = r.stdout.trim();
  return out === "refused" ? "refused" : Number(out);
}

const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", ...args, "--control", api], { encoding: "utf8" });

test("the product page is served through the mesh, with reviews from all three versions", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 12 && seen.size < 3; i++) seen.add(version(await page()));
  const html = await page();
  assert.match(html, /The Comedy of Errors/);
  assert.match(html, /Reviewer1/);
  assert.deepEqual([...seen].sort(), ["v1", "v2", "v3"]);
});

test("a page view is one trace with a span from every proxy on the way: productpage -> reviews -> ratings", async () => {
  interface Span { spanId: string; parentSpanId: string; service: string; kind: string; operation: string }
  let spans: Span[] = [];
  let traceId = "";
  // Sidecars export in batches (within a second), each on its own clock: poll until every hop's span is in, the
  // whole way from ratings up to the root.
  const rootward = (s: Span | undefined, seen = 0): boolean => !!s && seen < 10 && (s.parentSpanId === "" || rootward(spans.find((p) => p.spanId === s.parentSpanId), seen + 1));
  const complete = () => rootward(spans.find((s) => s.service === "ratings.default")) && spans.some((s) => s.service === "details.default" && s.kind === "server");
  for (let i = 0; i < 40 && !complete(); i++) {
    if (!traceId) await page();
    await new Promise((r) => setTimeout(r, 250));
    const found = (await (await fetch(`http://${api}/api/v1/traces?service=ratings.default&limit=1`)).json()) as Array<{ traceId: string }>;
    traceId ||= found[0]?.traceId ?? "";
    if (traceId) spans = ((await (await fetch(`http://${api}/api/v1/traces/${traceId}`)).json()) as { spans: Span[] }).spans;
  }
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain = (s: Span | undefined): string[] => (s ? [...chain(byId.get(s.parentSpanId)), `${s.service} ${s.kind}`] : []);
  const ratings = spans.find((s) => s.service === "ratings.default");
  assert.ok(ratings, `a trace reached ratings: ${JSON.stringify(spans)}`);
  assert.deepEqual(chain(ratings), [
    "productpage.default server", "productpage.default client", "reviews.default server", "reviews.default client", "ratings.default server",
  ]);
  assert.equal(ratings.operation, "ratings.default.svc.cluster.local:9080/*");
  assert.ok(spans.some((s) => s.service === "details.default" && s.kind === "server"), "the details call is in the same trace");
  const bad = await fetch(`http://${api}/api/v1/traces?minDuration=soon`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { message: string }).message, /minDuration: "soon" is not a duration/);
});

test("the mesh graph from the embedded metrics store: Bookinfo's services, versions and edges with live rates", async () => {
  interface Graph { nodes: Array<{ id: string; nodeType: string }>; edges: Array<{ source: string; target: string; rps: number; errorRatio: number; responseTimeMs?: { p99: number }; mtlsRatio: number }> }
  const want = [
    "unknown->default/service/productpage", "default/service/productpage->default/app/productpage/v1",
    "default/app/productpage/v1->default/service/details", "default/service/details->default/app/details/v1",
    "default/app/productpage/v1->default/service/reviews",
    "default/service/reviews->default/app/reviews/v1", "default/service/reviews->default/app/reviews/v2", "default/service/reviews->default/app/reviews/v3",
    "default/app/reviews/v2->default/service/ratings", "default/app/reviews/v3->default/service/ratings", "default/service/ratings->default/app/ratings/v1",
  ];
  let graph: Graph = { nodes: [], edges: [] };
  const have = () => new Set(graph.edges.filter((e) => e.rps > 0).map((e) => `${e.source}->${e.target}`));
  for (let i = 0; i < 30 && !want.every((w) => have().has(w)); i++) {
    for (let j = 0; j < 6; j++) await page();
    await new Promise((r) => setTimeout(r, 500));
    graph = (await (await fetch(`http://${api}/api/v1/telemetry/graph?window=1m&graphType=versionedApp&namespaces=default`)).json()) as Graph;
  }
  for (const w of want) assert.ok(have().has(w), `edge ${w} in ${[...have()].join(", ")}`);
  assert.ok(!have().has("default/app/reviews/v1->default/service/ratings"), "reviews v1 does not call ratings");
  const toReviews = graph.edges.find((e) => e.target === "default/service/reviews")!;
  assert.ok(toReviews.responseTimeMs && toReviews.responseTimeMs.p99 > 0, "latency percentiles per edge");
  assert.equal(toReviews.errorRatio, 0);
  const services = (await (await fetch(`http://${api}/api/v1/telemetry/graph?window=1m&graphType=service`)).json()) as Graph;
  assert.ok(services.nodes.every((n) => n.nodeType === "service" || n.nodeType === "unknown" || n.nodeType === "app"));
  const health = (await (await fetch(`http://${api}/api/v1/telemetry/health?window=1m`)).json()) as Array<{ kind: string; name: string; status: string }>;
  assert.equal(health.find((h) => h.kind === "service" && h.name === "reviews")?.status, "Healthy");
  const metrics = (await (await fetch(`http://${api}/api/v1/telemetry/metrics?kind=service&namespace=default&name=reviews&window=1m`)).json()) as { requestRate: Array<[number, number]> };
  assert.ok(metrics.requestRate.some(([, v]) => v > 0), "the service's request-rate chart has traffic");
  const prom = (await (await fetch(`http://${api}/api/v1/query?query=${encodeURIComponent('sum(rate(istio_requests_total{reporter="destination",destination_app="ratings"}[1m])) > 0')}`)).json()) as { status: string; data: { resultType: string; result: unknown[] } };
  assert.equal(prom.status, "success");
  assert.equal(prom.data.resultType, "vector");
  assert.equal(prom.data.result.length, 1);
  const bad = await fetch(`http://${api}/api/v1/telemetry/graph?window=forever`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { message: string }).message, /window: "forever" is not a duration/);
});

test("Istio's request-routing task: jason sees v2 (black stars), everyone else v1", async () => {
  const dr = cli("apply", "-f", "examples/istio/bookinfo/destination-rule-all.yaml");
  assert.equal(dr.status, 0, dr.stderr);
  const vs = cli("apply", "-f", "examples/istio/tasks/request-routing/virtual-service-reviews-test-v2.yaml");
  assert.equal(vs.status, 0, vs.stderr);
  const deadline = Date.now() + 10_000;
  let ok = false;
  while (!ok && Date.now() < deadline) {
    const anon = await Promise.all([page(), page(), page()]);
    const jason = await Promise.all([page("user=jason"), page("user=jason")]);
    ok = anon.every((h) => version(h) === "v1") && jason.every((h) => version(h) === "v2");
    if (!ok) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(ok, "routing did not converge to v1 for everyone and v2 for jason");
});

test("proxy-status lists the six sidecars in sync", () => {
  const r = cli("proxy-status");
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.split("\n").filter((l) => /^(productpage|details|reviews|ratings)-/.test(l));
  assert.equal(rows.length, 6, r.stdout);
  assert.ok(rows.every((l) => !/NACKED|STALE/.test(l)), r.stdout);
  const clusters = cli("proxy-config", "clusters", "productpage");
  assert.equal(clusters.status, 0, clusters.stderr);
  assert.match(clusters.stdout, /outbound\|9080\|\|reviews\.default\.svc\.cluster\.local\s+EDS\s+mTLS/);
  const listeners = cli("proxy-config", "listeners", "productpage");
  assert.match(listeners.stdout, /virtualInbound/);
  const endpoints = cli("proxy-config", "endpoints", "productpage");
  assert.equal(endpoints.stdout.split("\n").filter((l) => l.includes("outbound|9080||reviews")).length, 3);
  const secrets = cli("proxy-config", "secrets", "productpage");
  assert.match(secrets.stdout, /default\s+Cert Chain\s+spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-productpage/);
  assert.match(secrets.stdout, /ROOTCA\s+CA/);
});

async function converge(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`did not converge: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("Istio's fault injection task: an HTTP 500 abort to ratings for jason shows the ratings error", async () => {
  assert.equal(cli("apply", "-f", "examples/istio/tasks/fault-injection-abort/virtual-service-ratings-test-abort.yaml").status, 0);
  await converge("jason's ratings to fail", async () => (await page("user=jason")).includes("Ratings service is currently unavailable"));
  assert.doesNotMatch(await page(), /Ratings service is currently unavailable/, "others are not affected");
  assert.equal(cli("delete", "vs", "ratings").status, 0);
});

test("Istio's fault injection task: a 7 s delay to ratings for jason; productpage gives up on reviews after about 6 s", async () => {
  assert.equal(cli("apply", "-f", "examples/istio/tasks/fault-injection-delay/virtual-service-ratings-test-delay.yaml").status, 0);
  // The task's documented outcome: reviews v2 waits out the delay, productpage times out twice (3 s each) first.
  await converge("jason's reviews to be unavailable", async () => (await page("user=jason")).includes("Sorry, product reviews are currently unavailable for this book."), 30_000);
  const started = Date.now();
  const html = await page("user=jason");
  const took = Date.now() - started;
  assert.match(html, /Sorry, product reviews are currently unavailable for this book\./);
  assert.ok(took >= 5_000, `productpage waited out its two 3 s tries (${took} ms)`);
  assert.doesNotMatch(await page(), /currently unavailable/, "others are not delayed");
  assert.equal(cli("delete", "vs", "ratings").status, 0);
});

test("Istio's request timeouts task: ratings delayed 2 s, reviews with a 0.5 s timeout: reviews unavailable", async () => {
  assert.equal(cli("apply", "-f", "examples/istio/tasks/request-timeouts/virtual-service-reviews-timeout.yaml").status, 0);
  await converge("reviews to time out", async () => (await page()).includes("Sorry, product reviews are currently unavailable for this book."));
  assert.equal(cli("delete", "vs", "ratings").status, 0);
});

test("Istio's traffic shifting task: 50/50 between v1 and v3, then 100% v3", async () => {
  assert.equal(cli("apply", "-f", "examples/istio/tasks/traffic-shifting/virtual-service-reviews-50-v3.yaml").status, 0);
  await converge("only v1 and v3", async () => { const v = await Promise.all([page(), page(), page(), page()]); return v.every((h) => version(h) !== "v2"); });
  const counts = { v1: 0, v2: 0, v3: 0 };
  for (let i = 0; i < 60; i++) counts[version(await page())]++;
  assert.equal(counts.v2, 0);
  // 60 requests at 50/50: outside 15..45 has a chance below one in ten thousand.
  assert.ok(counts.v1 >= 15 && counts.v3 >= 15, JSON.stringify(counts));
  assert.equal(cli("apply", "-f", "examples/istio/tasks/traffic-shifting-100/virtual-service-reviews-v3.yaml").status, 0);
  await converge("everything on v3", async () => { const v = await Promise.all([page(), page(), page(), page(), page()]); return v.every((h) => version(h) === "v3"); });
  // Back to the request-routing task's routes for what follows.
  assert.equal(cli("apply", "-f", "examples/istio/tasks/request-routing/virtual-service-reviews-test-v2.yaml").status, 0);
  await converge("jason on v2 again", async () => version(await page("user=jason")) === "v2" && version(await page()) === "v1");
});

test("sidecars talk mutual TLS with SPIFFE identities; STRICT refuses plaintext; authorization by principal works", async () => {
  const status = cli("proxy-status");
  const adminOf = async (prefix: string) => {
    const proxies = (await (await fetch(`http://${api}/debug/proxies`)).json()) as Array<{ node: { id: string }; workload: { adminAddress: string; inboundPort: number; address: string } }>;
    return proxies.find((p) => p.node.id.startsWith(prefix))!.workload;
  };
  assert.equal(status.status, 0);
  await page();
  const reviews = await adminOf("reviews-v1");
  const metrics = await (await fetch(`http://${reviews.adminAddress}/stats/prometheus`)).text();
  assert.match(metrics, /istio_requests_total\{reporter="destination",source_workload="productpage-v1",source_workload_namespace="default",source_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/bookinfo-productpage",[^}]*connection_security_policy="mutual_tls"\}/);

  // STRICT on reviews: plaintext straight to its sidecar is refused, the mesh still works.
  assert.equal(cli("apply", "-f", "examples/istio/tasks/authorization/reviews-strict-mtls.yaml").status, 0);
  const deadline = Date.now() + 10_000;
  let refused = false;
  while (!refused && Date.now() < deadline) {
    refused = (await plainGet(reviews, "/reviews/0")) === "refused";
    if (!refused) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(refused, "plaintext to a STRICT sidecar must fail");
  assert.match(await page(), /Reviewer1/);

  // Istio's HTTP authorization task: deny by default, allow each hop by the caller's service account.
  assert.equal(cli("apply", "-f", "examples/istio/tasks/authorization/bookinfo-policies.yaml").status, 0);
  await new Promise((r) => setTimeout(r, 1000));
  const html = await page("user=jason");
  assert.doesNotMatch(html, /unavailable/, "every hop is allowed for the right principal");
  assert.match(html, /color:\s*black/, "reviews v2 could call ratings as bookinfo-reviews");
  // A caller without the right identity is denied: plaintext to details (PERMISSIVE) has no principal.
  const details = await adminOf("details-v1");
  assert.equal(await plainGet(details, "/details/0"), 403);
});

}
