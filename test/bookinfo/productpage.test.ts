// productpage over real details, reviews v1/v2/v3 and ratings processes: the HTML page, the JSON API, sign-in.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fleet, count, getJson, getText, upstreamEnv } from "./helpers.js";

describe("bookinfo productpage", () => {
  const fleet = new Fleet();
  const page: Record<string, string> = {};
  before(async () => {
    const ratings = await fleet.start("ratings", "ratings");
    const details = await fleet.start("details", "details");
    // One productpage per reviews version: without a mesh nothing else picks the version.
    for (const v of ["v1", "v2", "v3"]) {
      const reviews = await fleet.start("reviews", `reviews-${v}`, ["--version", v], upstreamEnv("RATINGS", ratings.port));
      const env = { ...upstreamEnv("DETAILS", details.port), ...upstreamEnv("REVIEWS", reviews.port), ...upstreamEnv("RATINGS", ratings.port) };
      page[v] = (await fleet.start("productpage", `productpage-${v}`, [], env)).url;
    }
  });
  after(() => fleet.stop());

  it("renders the book, its details and both reviews", async () => {
    const { status, text } = await getText(`${page.v1}/productpage`);
    assert.equal(status, 200);
    assert.match(text, /<title>Simple Bookstore App<\/title>/);
    assert.match(text, /The Comedy of Errors/);
    assert.match(text, /<td>PublisherA<\/td>/);
    assert.match(text, /Reviewer1/);
    assert.match(text, /Reviewer2/);
    assert.match(text, /An extremely entertaining play by Shakespeare/);
  });

  it("shows no stars for v1, black stars for v2 and red stars for v3", async () => {
    const v1 = (await getText(`${page.v1}/productpage`)).text;
    assert.equal(count(v1, "class=\"glyphicon"), 0);
    for (const [v, color] of [["v2", "black"], ["v3", "red"]]) {
      const html = (await getText(`${page[v]}/productpage`)).text;
      // Reviewer1 has 5 stars and Reviewer2 4: nine full glyphs and one empty, all in the version's colour.
      assert.equal(count(html, `class="glyphicon glyphicon-star" style="color:${color}"`), 9, v);
      assert.equal(count(html, `class="glyphicon glyphicon-star-empty" style="color:${color}"`), 1, v);
    }
  });

  it("answers the JSON API with Istio's shapes", async () => {
    const products = await getJson(`${page.v1}/api/v1/products`);
    assert.equal(products.status, 200);
    assert.deepEqual((products.body as { id: number; title: string }[]).map((p) => [p.id, p.title]), [[0, "The Comedy of Errors"]]);
    const details = await getJson(`${page.v1}/api/v1/products/0`);
    assert.equal((details.body as { publisher: string }).publisher, "PublisherA");
    assert.deepEqual(await getJson(`${page.v1}/api/v1/products/0/ratings`), { status: 200, body: { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } } });
    const v1 = (await getJson(`${page.v1}/api/v1/products/0/reviews`)).body as { reviews: Record<string, unknown>[] };
    assert.ok(v1.reviews.every((r) => !("rating" in r)));
    const v3 = (await getJson(`${page.v3}/api/v1/products/0/reviews`)).body as { reviews: { rating: unknown }[] };
    assert.deepEqual(v3.reviews.map((r) => r.rating), [{ stars: 5, color: "red" }, { stars: 4, color: "red" }]);
  });

  it("counts upstream results in /metrics as Istio's request_result counter", async () => {
    await getText(`${page.v2}/productpage`);
    const { text } = await getText(`${page.v2}/metrics`);
    assert.match(text, /^request_result_total\{destination_app="details",response_code="200"\} [1-9]\d*$/m);
    assert.match(text, /^request_result_total\{destination_app="reviews",response_code="200"\} [1-9]\d*$/m);
  });

  it("serves the index and health", async () => {
    const index = await getText(`${page.v1}/`);
    assert.equal(index.status, 200);
    assert.match(index.text, /href="\/productpage\?u=normal"/);
    assert.deepEqual([(await getText(`${page.v1}/health`)).text], ["Product page is healthy"]);
  });

  it("signs a user in and out with the user cookie and redirects back", async () => {
    const login = await fetch(`${page.v1}/login`, {
      method: "POST",
      body: new URLSearchParams({ username: "jason", passwd: "" }),
      headers: { referer: `${page.v1}/productpage` },
      redirect: "manual",
    });
    assert.equal(login.status, 302);
    assert.equal(login.headers.get("location"), `${page.v1}/productpage`);
    assert.match(login.headers.get("set-cookie") ?? "", /^user=jason;/);
    const signedIn = await getText(`${page.v1}/productpage`, { cookie: "user=jason" });
    assert.match(signedIn.text, /<b class="user">jason<\/b>/);
    assert.match(signedIn.text, /href="logout">Sign out/);
    const logout = await getText(`${page.v1}/logout`, { referer: `${page.v1}/productpage` });
    assert.equal(logout.status, 302);
    assert.match(logout.headers.get("set-cookie") ?? "", /^user=;.*Max-Age=0/);
  });
});
