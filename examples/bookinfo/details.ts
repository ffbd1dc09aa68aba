// Bookinfo's details service: GET /details/ID answers the book's publishing details, as Istio's details.rb does.
import { pathOf, runMain, sendJson, serve, serveOptions } from "./common.js";

function bookDetails(id: number): Record<string, unknown> {
  return {
    id,
    author: "William Shakespeare",
    year: 1595,
    type: "paperback",
    pages: 200,
    publisher: "PublisherA",
    language: "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
  };
}

runMain(() => {
  if (process.env.ENABLE_EXTERNAL_BOOK_SERVICE === "true") {
    throw new Error("ENABLE_EXTERNAL_BOOK_SERVICE: this rewrite never calls the Google Books API; unset the variable");
  }
  serve("details", serveOptions(process.argv.slice(2)), (req, res) => {
    const path = pathOf(req);
    if (path === "/health") return sendJson(res, 200, { status: "Details is healthy" });
    if (path === "/details" || path.startsWith("/details/")) {
      const last = path.split("/").pop() ?? "";
      if (!/^[+-]?\d+$/.test(last)) return sendJson(res, 400, { error: "please provide numeric product id" });
      return sendJson(res, 200, bookDetails(Number(last)));
    }
    sendJson(res, 404, { error: `no route for ${path}` });
  });
});
