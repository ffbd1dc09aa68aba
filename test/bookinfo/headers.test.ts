// Trace, context and end-user headers flow productpage -> details/reviews and reviews -> ratings, as in Istio's Bookinfo.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Fleet, getText, recordingServer, upstreamEnv } from "./helpers.js";

const TRACE = {
  "x-request-id": "c0ffee-1",
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "vendor=abc",
  "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
  "x-b3-spanid": "e457b5a2e4d86bd1",
  "x-b3-parentspanid": "05e3ac9a4f6e3b90",
  "x-b3-sampled": "1",
  b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
  baggage: "tenant=t1",
  "x-ot-span-context": "ot-ctx",
  "user-agent": "bookinfo-test/1",
};

describe("bookinfo header propagation", () => {
  const fleet = new Fleet();
  let upstream: Awaited<ReturnType<typeof recordingServer>>;
  let page = "";
  let reviews = "";
  before(async () => {
    // One recording server plays details, reviews and ratings: it answers each path with a valid body.
    upstream = await recordingServer((path) => {
      if (path.startsWith("/details/")) return { status: 200, body: { id: 0, publisher: "PublisherA" } };
      if (path.startsWith("/ratings/")) return { status: 200, body: { id: 0, ratings: { Reviewer1: 3, Reviewer2: 2 } } };
      return { status: 200, body: { id: "0", podname: "echo", clustername: "null", reviews: [] } };
    });
    const env = { ...upstreamEnv("DETAILS", upstream.port), ...upstreamEnv("REVIEWS", upstream.port), ...upstreamEnv("RATINGS", upstream.port) };
    page = (await fleet.start("productpage", "productpage", [], env)).url;
    reviews = (await fleet.start("reviews", "reviews-v2", ["--version", "v2"], env)).url;
  });
  after(async () => {
    await fleet.stop();
    await upstream.close();
  });

  it("productpage forwards trace headers, the cookie and the signed-in user as end-user", async () => {
    upstream.seen.length = 0;
    assert.equal((await getText(`${page}/productpage`, { ...TRACE, cookie: "user=jason" })).status, 200);
    assert.deepEqual(upstream.seen.map((r) => r.path), ["/details/0", "/reviews/0"]);
    for (const { headers } of upstream.seen) {
      for (const [name, value] of Object.entries(TRACE)) assert.equal(headers[name], value, name);
      assert.equal(headers["end-user"], "jason");
      assert.equal(headers.cookie, "user=jason");
    }
  });

  it("productpage sends no end-user for an anonymous visitor, even if the client sent one", async () => {
    upstream.seen.length = 0;
    await getText(`${page}/api/v1/products/0/reviews`, { "end-user": "mallory", "x-request-id": "r2" });
    assert.equal(upstream.seen.length, 1);
    assert.equal(upstream.seen[0].headers["end-user"], undefined);
    assert.equal(upstream.seen[0].headers["x-request-id"], "r2");
  });

  it("reviews forwards trace headers and end-user to ratings", async () => {
    upstream.seen.length = 0;
    const res = await getText(`${reviews}/reviews/0`, { ...TRACE, "end-user": "jason", "x-not-forwarded": "x" });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text).reviews[0].rating, { stars: 3, color: "black" });
    assert.deepEqual(upstream.seen.map((r) => r.path), ["/ratings/0"]);
    const { headers } = upstream.seen[0];
    for (const [name, value] of Object.entries(TRACE)) assert.equal(headers[name], value, name);
    assert.equal(headers["end-user"], "jason");
    assert.equal(headers["x-not-forwarded"], undefined);
  });
});
