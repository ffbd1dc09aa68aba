// The console in a real browser (Debian's Chromium driven by playwright-core) against the running Bookinfo demo:
// the graph draws Bookinfo's apps and edges, the routing wizard sends everything to reviews v3 and the graph
// follows, a trace opens from a service page, and an invalid VirtualService edit is refused and not saved.
// Screenshots of each page go to test-artifacts/console/. The fault-injection task is truth.test.ts.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";
import { bookinfoTraffic, chromiumMissing, startConsoleDemo, type ConsoleDemo } from "../fixtures/console-demo.js";

declare class HTMLDetailsElement { open: boolean }

const ARTIFACTS = "test-artifacts/console";
const skip = chromiumMissing;
let demo: ConsoleDemo;
let page: Page;
let productpage = "";
let api = "";
let consoleUrl = "";

before(async () => {
  if (skip) return;
  demo = await startConsoleDemo(ARTIFACTS);
  ({ page, productpage, api, consoleUrl } = demo);
});

after(async () => { await demo?.stop(); });

const traffic = (n: number) => bookinfoTraffic(productpage, n);

/** The graph's edges with traffic, read from its accessible table. */
async function graphEdges(window: string): Promise<string[]> {
  await page.goto("about:blank"); // a fresh load, so the graph is fetched now
  await page.goto(`${consoleUrl}#/graph?type=versionedApp&window=${window}&refresh=0`);
  await page.locator("details").last().evaluate((d) => { (d as HTMLDetailsElement).open = true; });
  await page.getByRole("table", { name: "Graph edges" }).waitFor();
  await page.waitForSelector("tr[data-edge]", { timeout: 3000 }).catch(() => undefined);
  return page.$$eval("tr[data-edge]", (rows) => rows.filter((r) => Number(r.children[3].textContent) > 0).map((r) => `${r.children[0].textContent}->${r.children[1].textContent}`));
}

test("the overview and the graph show Bookinfo: productpage, details, reviews v1/v2/v3 and ratings, with their edges", { skip }, async () => {
  const want = [
    "default/app/productpage/v1->default/service/reviews", "default/service/reviews->default/app/reviews/v1", "default/service/reviews->default/app/reviews/v2",
    "default/service/reviews->default/app/reviews/v3", "default/app/productpage/v1->default/service/details", "default/app/reviews/v2->default/service/ratings",
  ];
  let edges: string[] = [];
  for (let i = 0; i < 20 && !want.every((w) => edges.includes(w)); i++) {
    await traffic(6);
    await new Promise((r) => setTimeout(r, 500));
    edges = await graphEdges("1m");
  }
  for (const w of want) assert.ok(edges.includes(w), `${w} in ${edges.join(", ")}`);
  const label = await page.getByRole("img", { name: /Mesh graph: \d+ nodes/ }).getAttribute("aria-label");
  assert.match(label!, /Mesh graph: (9|1\d) nodes/);
  await page.screenshot({ path: join(ARTIFACTS, "graph.png"), fullPage: true });
  await page.goto(`${consoleUrl}#/overview`);
  await page.getByRole("article", { name: "Namespace default" }).waitFor();
  assert.match(await page.getByRole("article", { name: "Namespace default" }).innerText(), /4 applications · 6 workloads · 4 services/);
  await page.screenshot({ path: join(ARTIFACTS, "overview.png"), fullPage: true });
});

test("a service page shows charts and instances; a trace opens from it as a waterfall", { skip }, async () => {
  await page.goto(`${consoleUrl}#/services/default/reviews?tab=inbound`);
  await page.getByRole("figure", { name: "Request rate" }).waitFor();
  // A line, or a dot while the window holds a single step of data.
  await page.locator(".recharts-line-curve, .recharts-line-dot").first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(ARTIFACTS, "service-metrics.png"), fullPage: true });
  await page.getByRole("tab", { name: "Overview" }).click();
  assert.equal(await page.getByRole("table", { name: "Instances" }).locator("tbody tr").count(), 3);
  await page.getByRole("tab", { name: "Traces" }).click();
  await page.getByRole("table", { name: "Traces" }).locator("a").first().click();
  await page.getByRole("list", { name: "Spans" }).waitFor();
  const spans = await page.getByRole("list", { name: "Spans" }).innerText();
  assert.match(spans, /productpage\.default\s+server/);
  assert.match(spans, /reviews\.default\s+server/);
  await page.getByRole("list", { name: "Spans" }).locator("button").first().click();
  assert.match(await page.locator("table.tags").first().innerText(), /http\.status_code\s+200/);
  await page.screenshot({ path: join(ARTIFACTS, "trace.png"), fullPage: true });
});

test("the routing wizard sends every request to reviews v3, and the graph's edges follow", { skip }, async () => {
  await page.goto(`${consoleUrl}#/services/default/reviews?tab=wizards&wizard=routing`);
  await page.getByLabel("Weight of v1").fill("0");
  await page.getByLabel("Weight of v2").fill("0");
  await page.getByLabel("Weight of v3").fill("100");
  await page.screenshot({ path: join(ARTIFACTS, "wizard.png"), fullPage: true });
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("status").filter({ hasText: "Created DestinationRule default/reviews and VirtualService default/reviews" }).waitFor();
  let versions: string[] = [];
  for (let i = 0; i < 30 && !(versions.length && versions.every((v) => v === "v3")); i++) {
    versions = await traffic(5);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual([...new Set(versions)], ["v3"]);
  // Once the window holds only traffic after the change, the only edge out of reviews goes to v3.
  const end = Date.now() + 60_000;
  let edges: string[] = [];
  while (Date.now() < end) {
    await traffic(5);
    edges = (await graphEdges("10s")).filter((e) => e.startsWith("default/service/reviews->"));
    if (edges.length === 1) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.deepEqual(edges, ["default/service/reviews->default/app/reviews/v3"]);
  await page.screenshot({ path: join(ARTIFACTS, "graph-after-wizard.png"), fullPage: true });
  await page.goto(`${consoleUrl}#/istio`);
  await page.getByRole("table", { name: "Istio config" }).getByText("VirtualService").waitFor();
  await page.screenshot({ path: join(ARTIFACTS, "istio-config.png"), fullPage: true });
});

test("an invalid VirtualService edit shows the validation message and is not saved", { skip }, async () => {
  const before = (await (await fetch(`http://${api}/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews`)).json()) as { metadata: { resourceVersion: string } };
  await page.goto(`${consoleUrl}#/istio/VirtualService/default/reviews`);
  const editor = page.locator(".cm-content");
  await page.locator('.validation [data-severity="valid"]').waitFor();
  const yaml = await editor.innerText();
  assert.match(yaml, /hosts:/);
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(yaml.replace("hosts:", "hostz:"));
  await page.getByRole("status").filter({ hasText: "Refused:" }).waitFor();
  assert.match(await page.locator(".validation").innerText(), /hostz/);
  assert.equal(await page.getByRole("button", { name: "Save" }).isDisabled(), true);
  await page.screenshot({ path: join(ARTIFACTS, "invalid-edit.png"), fullPage: true });
  const after = (await (await fetch(`http://${api}/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews`)).json()) as { metadata: { resourceVersion: string }; spec: { http: Array<{ route: Array<{ weight: number }> }> } };
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, "nothing was saved");
  assert.equal(after.spec.http[0].route[0].weight, 100);
});
