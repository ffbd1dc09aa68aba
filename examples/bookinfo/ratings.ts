// Bookinfo's ratings service: GET/POST /ratings/ID with Istio's ratings.js behaviours, including its fault versions.
import type http from "node:http";
import { option, pathOf, runMain, sendJson, serve, serveOptions } from "./common.js";

/** SERVICE_VERSION values of Istio's ratings.js that need no database. */
const VERSIONS = ["v1", "v-faulty", "v-delayed", "v-unavailable", "v-unhealthy"];

interface Ratings {
  id: number;
  ratings: Record<string, unknown>;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(null);
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(null));
  });
}

runMain(() => {
  const argv = process.argv.slice(2);
  const version = option(argv, "version", "SERVICE_VERSION", "v1");
  if (version === "v2") {
    throw new Error("SERVICE_VERSION=v2: ratings v2 reads MongoDB or MySQL, which this rewrite does not include; use v1");
  }
  if (!VERSIONS.includes(version)) {
    throw new Error(`SERVICE_VERSION / --version: "${version}" is not one of ${VERSIONS.join(", ")}`);
  }
  const added = new Map<number, Ratings>();
  let unavailable = false;
  let healthy = true;
  // Same periods as ratings.js: v-unavailable flips every minute, v-unhealthy every 15 minutes.
  if (version === "v-unavailable") setInterval(() => (unavailable = !unavailable), 60_000).unref();
  if (version === "v-unhealthy") {
    setInterval(() => {
      healthy = !healthy;
      unavailable = !unavailable;
    }, 900_000).unref();
  }
  const ratingsOf = (id: number): Ratings => added.get(id) ?? { id, ratings: { Reviewer1: 5, Reviewer2: 4 } };

  serve("ratings", serveOptions(argv), async (req, res) => {
    const path = pathOf(req);
    if (path === "/health") {
      return healthy ? sendJson(res, 200, { status: "Ratings is healthy" }) : sendJson(res, 500, { status: "Ratings is not healthy" });
    }
    if (!/^\/ratings\/[0-9]*/.test(path)) return sendJson(res, 404, { error: `no route for ${path}` });
    const id = parseInt(path.split("/").pop() ?? "", 10);
    if (Number.isNaN(id)) return sendJson(res, 400, { error: "please provide numeric product ID" });
    if (req.method === "POST") {
      const text = await readBody(req, 64 * 1024);
      let body: unknown;
      try {
        body = text === null ? null : JSON.parse(text);
      } catch {
        body = null;
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        return sendJson(res, 400, { error: "please provide valid ratings JSON" });
      }
      added.set(id, { id, ratings: body as Record<string, unknown> });
      return sendJson(res, 200, ratingsOf(id));
    }
    if (req.method !== "GET") return sendJson(res, 405, { error: `method ${req.method} not allowed` });
    const half = Math.random() <= 0.5;
    if (version === "v-faulty" && half) return sendJson(res, 503, { error: "Service unavailable" });
    if (version === "v-delayed" && half) {
      setTimeout(() => sendJson(res, 200, ratingsOf(id)), 7000);
      return;
    }
    if ((version === "v-unavailable" || version === "v-unhealthy") && unavailable) {
      return sendJson(res, 503, { error: "Service unavailable" });
    }
    sendJson(res, 200, ratingsOf(id));
  });
});
