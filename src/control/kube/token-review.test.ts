// What a TokenReview's answer means for a workload: table tests of the rules that turn the API server's status into
// an identity (or a refusal naming why), and of the brief cache in front of the API server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { interpret, TokenReviewer } from "./token-review.js";
import { KubeClient } from "./client.js";

const SA = { authenticated: true, audiences: ["istio-ca"], user: { username: "system:serviceaccount:bookinfo:reviews", extra: { "authentication.kubernetes.io/pod-name": ["reviews-v1-abc"], "authentication.kubernetes.io/pod-uid": ["u-1"] } } };

test("a service account's token for istio-ca proves that account, and names its pod", () => {
  assert.deepEqual(interpret(SA, ["istio-ca"], "cluster.local"), { ok: true, token: { identity: { trustDomain: "cluster.local", namespace: "bookinfo", serviceAccount: "reviews" }, pod: { name: "reviews-v1-abc", uid: "u-1" } } });
  const unbound = interpret({ ...SA, user: { username: SA.user.username } }, ["istio-ca"], "cluster.local");
  assert.ok(unbound.ok && unbound.token.pod === undefined);
});

test("refusals name the reason: not authenticated, another audience, not a service account, a bad name", () => {
  const cases: Array<[object, RegExp]> = [
    [{ authenticated: false, error: "token has been invalidated" }, /does not accept the token for audience istio-ca: token has been invalidated/],
    [{ ...SA, audiences: [] }, /not for audience istio-ca \(it holds none of them\)/],
    [{ ...SA, audiences: ["https://kubernetes.default.svc"] }, /it holds https:\/\/kubernetes.default.svc/],
    [{ ...SA, user: { username: "alice" } }, /belongs to alice, not a service account/],
    [{ ...SA, user: { username: "system:serviceaccount:Bad_NS:x" } }, /namespace "Bad_NS" must be a DNS label/],
  ];
  for (const [status, message] of cases) {
    const r = interpret(status, ["istio-ca"], "cluster.local");
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, message);
  }
});

test("answers are reused for the cache's lifetime, then asked again", async (t) => {
  let asked = 0;
  const server = createServer((req, res) => {
    asked++;
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const spec = (JSON.parse(body) as { spec: { token: string; audiences: string[] } }).spec;
      assert.deepEqual(spec.audiences, ["istio-ca"]);
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ status: spec.token === "good" ? SA : { authenticated: false } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = new KubeClient({ server: `http://127.0.0.1:${(server.address() as { port: number }).port}`, namespace: "default", source: "test" });
  t.after(() => { client.close(); server.close(); });
  let now = 1_000_000;
  const reviewer = new TokenReviewer(client, { cacheMs: 30_000, now: () => now });
  assert.equal((await reviewer.review("good")).ok, true);
  assert.equal((await reviewer.review("good")).ok, true);
  assert.equal((await reviewer.review("bad")).ok, false);
  assert.equal(asked, 2);
  now += 30_000;
  await reviewer.review("good");
  assert.equal(asked, 3);
  // A token about to expire is not trusted from the cache past its exp claim.
  const soon = `x.${Buffer.from(JSON.stringify({ exp: (now + 5_000) / 1000 })).toString("base64url")}.y`;
  await reviewer.review(soon);
  now += 5_000;
  await reviewer.review(soon);
  assert.equal(asked, 5);
});
