// Bookinfo's reviews service, versions v1 (no ratings), v2 (black stars) and v3 (red stars) in one program.
import type http from "node:http";
import { forwardHeaders, getJson, option, pathOf, runMain, sendJson, serve, serveOptions, upstreamBase } from "./common.js";

interface Flavour {
  ratingsEnabled: boolean;
  starColor: string;
}

/** Istio builds its three reviews images from one source with ENABLE_RATINGS and STAR_COLOR; --version names them. */
const FLAVOURS: Record<string, Flavour> = {
  v1: { ratingsEnabled: false, starColor: "black" },
  v2: { ratingsEnabled: true, starColor: "black" },
  v3: { ratingsEnabled: true, starColor: "red" },
};

const REVIEWS = [
  { reviewer: "Reviewer1", text: "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!" },
  { reviewer: "Reviewer2", text: "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare." },
];

function flavourFrom(argv: string[]): Flavour {
  const version = option(argv, "version", "REVIEWS_VERSION", "");
  let flavour: Flavour = { ratingsEnabled: false, starColor: "black" };
  if (version !== "") {
    if (!(version in FLAVOURS)) throw new Error(`--version / REVIEWS_VERSION: "${version}" is not one of v1, v2, v3`);
    flavour = { ...FLAVOURS[version] };
  }
  if (process.env.ENABLE_RATINGS !== undefined) flavour.ratingsEnabled = process.env.ENABLE_RATINGS.toLowerCase() === "true";
  if (process.env.STAR_COLOR !== undefined) flavour.starColor = process.env.STAR_COLOR;
  return flavour;
}

async function starsFor(flavour: Flavour, ratingsUrl: string, productId: number, req: http.IncomingMessage): Promise<Record<string, number>> {
  // Istio's reviews waits 10 s for ratings with black stars and 2.5 s otherwise; the timeouts task depends on it.
  const timeoutMs = flavour.starColor === "black" ? 10_000 : 2_500;
  const answer = await getJson(`${ratingsUrl}/${productId}`, forwardHeaders(req), timeoutMs);
  if (answer.status !== 200 || answer.body === null || typeof answer.body !== "object") return {};
  const ratings = (answer.body as { ratings?: unknown }).ratings;
  if (ratings === null || typeof ratings !== "object") return {};
  const stars: Record<string, number> = {};
  for (const [name, value] of Object.entries(ratings as Record<string, unknown>)) {
    if (typeof value === "number" && Number.isInteger(value)) stars[name] = value;
  }
  return stars;
}

runMain(() => {
  const argv = process.argv.slice(2);
  const flavour = flavourFrom(argv);
  const ratingsUrl = `${upstreamBase("ratings")}/ratings`;
  const podname = process.env.HOSTNAME ?? "null";
  const clustername = process.env.CLUSTER_NAME ?? "null";

  serve("reviews", serveOptions(argv), async (req, res) => {
    const path = pathOf(req);
    if (path === "/health") return sendJson(res, 200, { status: "Reviews is healthy" });
    const match = /^\/reviews\/(-?\d+)$/.exec(path);
    if (!match || req.method !== "GET") return sendJson(res, 404, { error: `no route for ${req.method} ${path}` });
    const productId = Number(match[1]);
    const stars = flavour.ratingsEnabled ? await starsFor(flavour, ratingsUrl, productId, req) : {};
    const reviews = REVIEWS.map((r) => {
      if (!flavour.ratingsEnabled) return { ...r };
      const n = stars[r.reviewer];
      const rating = n === undefined ? { error: "Ratings service is currently unavailable" } : { stars: n, color: flavour.starColor };
      return { ...r, rating };
    });
    sendJson(res, 200, { id: String(productId), podname, clustername, reviews });
  });
});
