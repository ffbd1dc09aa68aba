// HTML of Bookinfo's productpage and index page, shaped like Istio's templates (title "Simple Bookstore App").
export interface Product {
  id: number;
  title: string;
  descriptionHtml: string;
}

export interface PageData {
  product: Product;
  user: string;
  detailsStatus: number;
  details: Record<string, unknown>;
  reviewsStatus: number;
  reviews: Record<string, unknown>;
}

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const HEAD = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Simple Bookstore App</title>
<style>
body{font-family:sans-serif;margin:0;color:#222}nav{background:#1f2937;color:#fff;padding:12px 24px;display:flex;justify-content:space-between;align-items:center}
nav a{color:#ddd}main{padding:0 24px}h1{color:#1e3a8a}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px}
.reviews{background:#eef2ff;padding:12px 24px}.review{display:inline-block;vertical-align:top;width:40%;margin:8px}.error{color:#dc2626}
.glyphicon-star,.glyphicon-star-empty{font-size:1.4em}
</style></head><body>`;

function ratingHtml(rating: unknown): string {
  if (rating === null || typeof rating !== "object") return "";
  const r = rating as { stars?: unknown; color?: unknown; error?: unknown };
  if (typeof r.stars === "number" && r.stars > 0) {
    const full = Math.min(5, Math.max(0, Math.trunc(r.stars)));
    const color = escapeHtml(r.color ?? "black");
    const glyphs =
      `<span class="glyphicon glyphicon-star" style="color:${color}">&#9733;</span>`.repeat(full) +
      `<span class="glyphicon glyphicon-star-empty" style="color:${color}">&#9734;</span>`.repeat(5 - full);
    return `<div class="stars" data-color="${color}">${glyphs}</div>`;
  }
  if (r.error) return `<p class="error rating-error">${escapeHtml(r.error)}</p>`;
  return "";
}

function navHtml(user: string): string {
  if (user) {
    return `<nav><span>BookInfo Sample</span><span><b class="user">${escapeHtml(user)}</b> <a href="logout">Sign out</a></span></nav>`;
  }
  return `<nav><span>BookInfo Sample</span><form method="post" action="login" name="login_form">
<input name="username" placeholder="Username" required> <input name="passwd" type="password" placeholder="Password">
<button type="submit">Sign in</button></form></nav>`;
}

function detailsHtml(status: number, details: Record<string, unknown>): string {
  if (status !== 200) {
    return `<h4 class="error">Error fetching product details</h4><p class="error">${escapeHtml(details.error)}</p>`;
  }
  return `<h4>Book Details</h4><table><tr><th>ISBN-10</th><th>Publisher</th><th>Pages</th><th>Type</th><th>Language</th></tr>
<tr><td>${escapeHtml(details["ISBN-10"])}</td><td>${escapeHtml(details.publisher)}</td><td>${escapeHtml(details.pages)}</td><td>${escapeHtml(details.type)}</td><td>${escapeHtml(details.language)}</td></tr></table>`;
}

function reviewsHtml(status: number, body: Record<string, unknown>): string {
  if (status !== 200) {
    return `<h4 class="error">Error fetching product reviews</h4><p class="error">${escapeHtml(body.error)}</p>`;
  }
  const list = Array.isArray(body.reviews) ? (body.reviews as Record<string, unknown>[]) : [];
  const servedBy = `Reviews served by: ${escapeHtml(body.podname)}${body.clustername && body.clustername !== "null" ? ` on cluster ${escapeHtml(body.clustername)}` : ""}`;
  const items = list.map(
    (r) => `<section class="review">${ratingHtml(r.rating)}<blockquote><p>"${escapeHtml(r.text)}"</p></blockquote>
<div class="reviewer">${escapeHtml(r.reviewer)}</div><small>${servedBy}</small></section>`,
  );
  return `<h4>Book Reviews</h4>${items.join("\n")}`;
}

export function productPageHtml(d: PageData): string {
  // descriptionHtml is the product's own trusted markup (a link and bold text), as in Istio's template.
  return `${HEAD}
${navHtml(d.user)}
<main><h1>${escapeHtml(d.product.title)}</h1><p>${d.product.descriptionHtml}</p>
<div class="details">${detailsHtml(d.detailsStatus, d.details)}</div></main>
<div class="reviews">${reviewsHtml(d.reviewsStatus, d.reviews)}</div>
</body></html>
`;
}

function tableOf(value: unknown): string {
  if (Array.isArray(value)) return `<ul>${value.map((v) => `<li>${tableOf(v)}</li>`).join("")}</ul>`;
  if (value !== null && typeof value === "object") {
    const rows = Object.entries(value).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${tableOf(v)}</td></tr>`);
    return `<table>${rows.join("")}</table>`;
  }
  return escapeHtml(value);
}

export function indexHtml(services: unknown): string {
  return `${HEAD}
<main><h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>
${tableOf(services)}
<h4>Click on one of the links below to auto generate a request to the backend as a real user or a tester</h4>
<p><a href="/productpage?u=normal">Normal user</a> <a href="/productpage?u=test">Test user</a></p></main>
</body></html>
`;
}
