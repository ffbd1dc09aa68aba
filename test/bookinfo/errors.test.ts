// Bookinfo's error paths with real processes: ratings, reviews or details unreachable, and productpage's one retry.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fleet, closedPort, getJson, getText, recordingServer, upstreamEnv } from "./helpers.js";

describe("bookinfo when a backend is down", () => {
  const fleet = new Fleet();
  let withoutRatings = "";
  let withoutBackends = "";
  let reviewsV3NoRatings = "";
  before(async () => {
    const nowhere = await closedPort();
    const details = await fleet.start("details", "details");
    const reviews = await fleet.start("reviews", "reviews-v2", ["--version", "v2"], upstreamEnv("RATINGS", nowhere));
    reviewsV3NoRatings = (await fleet.start("reviews", "reviews-v3", ["--version", "v3"], upstreamEnv("RATINGS", nowhere))).url;
    withoutRatings = (await fleet.start("productpage", "productpage-a", [], { ...upstreamEnv("DETAILS", details.port), ...upstreamEnv("REVIEWS", reviews.port), ...upstreamEnv("RATINGS", nowhere) })).url;
    withoutBackends = (await fleet.start("productpage", "productpage-b", [], { ...upstreamEnv("DETAILS", nowhere), ...upstreamEnv("REVIEWS", nowhere), ...upstreamEnv("RATINGS", nowhere) })).url;
  });
  after(() => fleet.stop());

  it("ratings down: reviews carry rating.error and the page shows it", async () => {
    const api = await getJson(`${withoutRatings}/api/v1/products/0/reviews`);
    assert.equal(api.status, 200);
    const error = { error: "Ratings service is currently unavailable" };
    assert.deepEqual((api.body as { reviews: { rating: unknown }[] }).reviews.map((r) => r.rating), [error, error]);
    const v3 = (await getJson(`${reviewsV3NoRatings}/reviews/0`)).body as { reviews: { rating: unknown }[] };
    assert.deepEqual(v3.reviews.map((r) => r.rating), [error, error]);
    const html = (await getText(`${withoutRatings}/productpage`)).text;
    assert.equal(html.split("Ratings service is currently unavailable").length - 1, 2);
    assert.ok(!html.includes("class=\"glyphicon"));
    assert.deepEqual(await getJson(`${withoutRatings}/api/v1/products/0/ratings`), { status: 500, body: { error: "Sorry, product ratings are currently unavailable for this book." } });
  });

  it("reviews and details down: the page and the API say so as Istio's do", async () => {
    const { status, text } = await getText(`${withoutBackends}/productpage`);
    assert.equal(status, 200);
    assert.match(text, /The Comedy of Errors/);
    assert.match(text, /Error fetching product details/);
    assert.match(text, /Sorry, product details are currently unavailable for this book\./);
    assert.match(text, /Error fetching product reviews/);
    assert.match(text, /Sorry, product reviews are currently unavailable for this book\./);
    assert.deepEqual(await getJson(`${withoutBackends}/api/v1/products/0/reviews`), { status: 500, body: { error: "Sorry, product reviews are currently unavailable for this book." } });
    assert.deepEqual(await getJson(`${withoutBackends}/api/v1/products/0`), { status: 500, body: { error: "Sorry, product details are currently unavailable for this book." } });
  });
});

describe("bookinfo productpage retries reviews once", () => {
  const fleet = new Fleet();
  let reviews: Awaited<ReturnType<typeof recordingServer>>;
  let page = "";
  before(async () => {
    reviews = await recordingServer(() => ({ status: 503, body: { error: "no healthy upstream" } }));
    page = (await fleet.start("productpage", "productpage", [], upstreamEnv("REVIEWS", reviews.port))).url;
  });
  after(async () => {
    await fleet.stop();
    await reviews.close();
  });

  it("passes the upstream status through after two attempts", async () => {
    assert.deepEqual(await getJson(`${page}/api/v1/products/0/reviews`), { status: 503, body: { error: "Sorry, product reviews are currently unavailable for this book." } });
    assert.deepEqual(reviews.seen.map((r) => r.path), ["/reviews/0", "/reviews/0"]);
  });
});

describe("bookinfo reviews v3 gives up on a slow ratings", () => {
  const fleet = new Fleet();
  let ratings: Awaited<ReturnType<typeof recordingServer>>;
  let reviews = "";
  before(async () => {
    ratings = await recordingServer(() => null);
    reviews = (await fleet.start("reviews", "reviews-v3", ["--version", "v3"], upstreamEnv("RATINGS", ratings.port))).url;
  });
  after(async () => {
    await fleet.stop();
    await ratings.close();
  });

  it("answers with rating.error once its 2.5 s ratings timeout passes", async () => {
    const { status, body } = await getJson(`${reviews}/reviews/0`);
    assert.equal(status, 200);
    const error = { error: "Ratings service is currently unavailable" };
    assert.deepEqual((body as { reviews: { rating: unknown }[] }).reviews.map((r) => r.rating), [error, error]);
    assert.equal(ratings.seen.length, 1);
  });
});

describe("bookinfo productpage gives up on a slow details", () => {
  const fleet = new Fleet();
  let details: Awaited<ReturnType<typeof recordingServer>>;
  let page = "";
  before(async () => {
    details = await recordingServer(() => null);
    const env = { ...upstreamEnv("DETAILS", details.port), ...upstreamEnv("REVIEWS", await closedPort()) };
    page = (await fleet.start("productpage", "productpage", [], env)).url;
  });
  after(async () => {
    await fleet.stop();
    await details.close();
  });

  it("renders the page with the details message once its 3 s timeout passes", async () => {
    const { status, text } = await getText(`${page}/productpage`);
    assert.equal(status, 200);
    assert.match(text, /Sorry, product details are currently unavailable for this book\./);
    assert.equal(details.seen.length, 1);
  });
});
