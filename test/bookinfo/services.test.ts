// details, ratings and reviews v1/v2/v3 as real processes: Istio's paths, JSON shapes, fault versions, bad options.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startService } from "../../examples/bookinfo/spawn-service.js";
import { Fleet, getJson, upstreamEnv } from "./helpers.js";

describe("bookinfo backends", () => {
  const fleet = new Fleet();
  let details = "";
  let ratings = "";
  const reviews: Record<string, string> = {};
  before(async () => {
    const r = await fleet.start("ratings", "ratings");
    ratings = r.url;
    details = (await fleet.start("details", "details")).url;
    for (const v of ["v1", "v2", "v3"]) {
      reviews[v] = (await fleet.start("reviews", `reviews-${v}`, ["--version", v], { ...upstreamEnv("RATINGS", r.port), HOSTNAME: `reviews-${v}-pod` })).url;
    }
  });
  after(() => fleet.stop());

  it("details answers Istio's book details and health", async () => {
    assert.deepEqual(await getJson(`${details}/details/0`), {
      status: 200,
      body: { id: 0, author: "William Shakespeare", year: 1595, type: "paperback", pages: 200, publisher: "PublisherA", language: "English", "ISBN-10": "1234567890", "ISBN-13": "123-1234567890" },
    });
    assert.deepEqual(await getJson(`${details}/details/abc`), { status: 400, body: { error: "please provide numeric product id" } });
    assert.deepEqual(await getJson(`${details}/health`), { status: 200, body: { status: "Details is healthy" } });
  });

  it("ratings answers, accepts posted ratings, and rejects a non-numeric id", async () => {
    assert.deepEqual(await getJson(`${ratings}/ratings/0`), { status: 200, body: { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } } });
    const posted = await fetch(`${ratings}/ratings/7`, { method: "POST", body: JSON.stringify({ Reviewer1: 1, Reviewer2: 2 }) });
    assert.equal(posted.status, 200);
    assert.deepEqual(await getJson(`${ratings}/ratings/7`), { status: 200, body: { id: 7, ratings: { Reviewer1: 1, Reviewer2: 2 } } });
    const bad = await fetch(`${ratings}/ratings/8`, { method: "POST", body: "not json" });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: "please provide valid ratings JSON" });
    assert.deepEqual(await getJson(`${ratings}/ratings/x`), { status: 400, body: { error: "please provide numeric product ID" } });
    assert.deepEqual(await getJson(`${ratings}/health`), { status: 200, body: { status: "Ratings is healthy" } });
  });

  it("reviews v1 has no ratings, v2 black stars, v3 red stars", async () => {
    const v1 = (await getJson(`${reviews.v1}/reviews/0`)).body as { id: string; podname: string; clustername: string; reviews: Record<string, unknown>[] };
    assert.equal(v1.id, "0");
    assert.equal(v1.podname, "reviews-v1-pod");
    assert.equal(v1.clustername, "null");
    assert.deepEqual(v1.reviews.map((r) => r.reviewer), ["Reviewer1", "Reviewer2"]);
    assert.ok(v1.reviews.every((r) => !("rating" in r)));
    for (const [v, color] of [["v2", "black"], ["v3", "red"]]) {
      const body = (await getJson(`${reviews[v]}/reviews/0`)).body as { reviews: { rating: unknown }[] };
      assert.deepEqual(body.reviews.map((r) => r.rating), [{ stars: 5, color }, { stars: 4, color }], v);
    }
    assert.deepEqual(await getJson(`${reviews.v2}/health`), { status: 200, body: { status: "Reviews is healthy" } });
  });
});

describe("bookinfo fault versions and options", () => {
  const fleet = new Fleet();
  after(() => fleet.stop());

  it("ratings v-faulty answers 503 to about half of the requests", async () => {
    const faulty = await fleet.start("ratings", "ratings-faulty", [], { SERVICE_VERSION: "v-faulty" });
    const statuses = new Set<number>();
    // 60 tries: the chance that a fair coin shows only one face is 2^-59.
    for (let i = 0; i < 60 && statuses.size < 2; i++) {
      const res = await fetch(`${faulty.url}/ratings/0`);
      await res.arrayBuffer();
      statuses.add(res.status);
    }
    assert.deepEqual([...statuses].sort(), [200, 503]);
  });

  it("a bad option stops the service with a message naming it", async () => {
    await assert.rejects(startService("reviews", "reviews-bad", ["--host", "127.0.0.1", "--port", "0", "--version", "v9"], {}), /--version \/ REVIEWS_VERSION: "v9" is not one of v1, v2, v3/);
    await assert.rejects(startService("details", "details-bad", ["--port", "99999"], {}), /--port \/ PORT: "99999"/);
  });
});
