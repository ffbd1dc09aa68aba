// Bookinfo's productpage: the HTML page, sign-in, and the /api/v1/products JSON API, calling details and reviews.
import type http from "node:http";
import { forwardHeaders, getJson, pathOf, runMain, sendJson, sendText, serve, serveOptions, upstreamBase } from "./common.js";
import { indexHtml, productPageHtml, type Product } from "./productpage-html.js";

const PRODUCTS: Product[] = [
  {
    id: 0,
    title: "The Comedy of Errors",
    descriptionHtml:
      '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

const UPSTREAM_TIMEOUT_MS = 3000;
const MAX_FORM_BYTES = 16 * 1024;

type Answer = { status: number; body: Record<string, unknown> };

function cookieValue(req: http.IncomingMessage, name: string): string {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return "";
      }
    }
  }
  return "";
}

/** The trace and context headers to pass on, with `end-user` set from the signed-in user as Istio's productpage does. */
function outboundHeaders(req: http.IncomingMessage): Record<string, string> {
  const headers = forwardHeaders(req);
  delete headers["end-user"];
  const user = cookieValue(req, "user");
  if (user) headers["end-user"] = user;
  return headers;
}

function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_FORM_BYTES) chunks.push(c);
    });
    req.on("end", () => resolve(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", () => resolve(new URLSearchParams()));
  });
}

function redirectBack(req: http.IncomingMessage, res: http.ServerResponse, cookie: string): void {
  const referer = typeof req.headers.referer === "string" && req.headers.referer !== "" ? req.headers.referer : "/productpage";
  res.writeHead(302, { location: referer, "set-cookie": cookie, "content-length": 0 });
  res.end();
}

runMain(() => {
  const argv = process.argv.slice(2);
  const details = { name: upstreamBase("details"), endpoint: "details", children: [] as unknown[] };
  const ratings = { name: upstreamBase("ratings"), endpoint: "ratings", children: [] as unknown[] };
  const reviews = { name: upstreamBase("reviews"), endpoint: "reviews", children: [ratings] };
  const topology = { name: details.name, endpoint: "details", children: [details, reviews] };
  const results = new Map<string, number>();

  const count = (app: string, status: number): void => {
    const key = `${app}\u0000${status}`;
    results.set(key, (results.get(key) ?? 0) + 1);
  };

  const fetchFrom = async (app: string, base: string, id: string, headers: Record<string, string>, attempts: number, error: string): Promise<Answer> => {
    let status = 0;
    // Istio's productpage tries reviews twice on purpose (the fault-injection task shows its effect); others once.
    for (let i = 0; i < attempts; i++) {
      const got = await getJson(`${base}/${app}/${encodeURIComponent(id)}`, headers, UPSTREAM_TIMEOUT_MS);
      if (got.status === 200 && got.body !== null && typeof got.body === "object") {
        count(app, 200);
        return { status: 200, body: got.body as Record<string, unknown> };
      }
      status = got.status;
    }
    const shown = status === 0 || status === 200 ? 500 : status;
    count(app, shown);
    return { status: shown, body: { error } };
  };
  const getDetails = (id: string, h: Record<string, string>): Promise<Answer> =>
    fetchFrom("details", details.name, id, h, 1, "Sorry, product details are currently unavailable for this book.");
  const getReviews = (id: string, h: Record<string, string>): Promise<Answer> =>
    fetchFrom("reviews", reviews.name, id, h, 2, "Sorry, product reviews are currently unavailable for this book.");
  const getRatings = (id: string, h: Record<string, string>): Promise<Answer> =>
    fetchFrom("ratings", ratings.name, id, h, 1, "Sorry, product ratings are currently unavailable for this book.");

  serve("productpage", serveOptions(argv), async (req, res) => {
    const path = pathOf(req);
    if (path === "/" || path === "/index.html") return sendText(res, 200, "text/html; charset=utf-8", indexHtml(topology));
    if (path === "/health") return sendText(res, 200, "text/plain; charset=utf-8", "Product page is healthy");
    if (path === "/login" && req.method === "POST") {
      const user = (await readForm(req)).get("username") ?? "";
      return redirectBack(req, res, `user=${encodeURIComponent(user)}; Path=/`);
    }
    if (path === "/logout") return redirectBack(req, res, "user=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0");
    if (path === "/productpage") {
      const headers = outboundHeaders(req);
      const product = PRODUCTS[0];
      // One after the other, as Istio's productpage does: a trace then shows details before reviews.
      const d = await getDetails(String(product.id), headers);
      const r = await getReviews(String(product.id), headers);
      const html = productPageHtml({ product, user: cookieValue(req, "user"), detailsStatus: d.status, details: d.body, reviewsStatus: r.status, reviews: r.body });
      return sendText(res, 200, "text/html; charset=utf-8", html);
    }
    if (path === "/metrics") {
      const lines = ["# HELP request_result_total Results of requests", "# TYPE request_result_total counter"];
      for (const [key, n] of results) {
        const [app, code] = key.split("\u0000");
        lines.push(`request_result_total{destination_app="${app}",response_code="${code}"} ${n}`);
      }
      return sendText(res, 200, "text/plain; version=0.0.4", `${lines.join("\n")}\n`);
    }
    if (path === "/api/v1/products") return sendJson(res, 200, PRODUCTS);
    const api = /^\/api\/v1\/products\/([^/]+)(?:\/(reviews|ratings))?$/.exec(path);
    if (api) {
      let id: string;
      try {
        id = decodeURIComponent(api[1]);
      } catch {
        return sendJson(res, 400, { error: `product id "${api[1]}" is not valid percent-encoding` });
      }
      const headers = outboundHeaders(req);
      const answer = api[2] === "reviews" ? await getReviews(id, headers) : api[2] === "ratings" ? await getRatings(id, headers) : await getDetails(id, headers);
      return sendJson(res, answer.status, answer.body);
    }
    sendText(res, 404, "text/plain; charset=utf-8", `no route for ${path}\n`);
  });
});
