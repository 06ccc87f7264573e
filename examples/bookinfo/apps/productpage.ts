// Bookinfo productpage (user-needs §6): the front end. `/productpage` calls details (3 s, one try) and
// reviews (3 s, two tries: the sample's deliberate double call) and renders both; the JSON API exposes the
// same calls; `/login` puts a user in a signed session cookie, forwarded downstream as the `end-user` header.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import {
  type Fetched,
  getJson,
  PROPAGATED_HEADERS,
  pickHeaders,
  readBody,
  sendJson,
  sendText,
  serve,
  serviceBase,
} from "./common.js";

const BACKEND_TIMEOUT_MS = 3_000;
const REVIEWS_TRIES = 2;
const SESSION_COOKIE = "session";

const details = serviceBase("details");
const reviews = serviceBase("reviews");
const ratings = serviceBase("ratings");
// FLOOD_FACTOR extra, ignored calls to reviews per page view: load for the rate-limiting demos.
const floodFactor = Number.parseInt(process.env.FLOOD_FACTOR ?? "0", 10) || 0;
// SESSION_SECRET is ours; without it a fresh key per process means a restart signs everyone out.
const sessionKey = process.env.SESSION_SECRET ? Buffer.from(process.env.SESSION_SECRET) : randomBytes(32);

type Product = { id: number; title: string; descriptionHtml: string };
type Result = { status: number; body: Record<string, unknown> };

const PRODUCTS: Product[] = [
  {
    id: 0,
    title: "The Comedy of Errors",
    descriptionHtml:
      '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

// ---- session: a user name signed with HMAC-SHA256, so `end-user` cannot be set by editing a cookie.

function sign(payload: string): string {
  return createHmac("sha256", sessionKey).update(payload).digest("base64url");
}

function sessionCookie(user: string): string {
  const payload = Buffer.from(JSON.stringify({ user })).toString("base64url");
  return `${payload}.${sign(payload)}`;
}

function cookies(req: http.IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function sessionUser(req: http.IncomingMessage): string {
  const value = cookies(req).get(SESSION_COOKIE);
  const [payload, mac] = value?.split(".") ?? [];
  if (!payload || !mac) return "";
  const expected = Buffer.from(sign(payload));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "";
  try {
    const user = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { user?: unknown }).user;
    return typeof user === "string" ? user : "";
  } catch {
    return "";
  }
}

// ---- calls to the backends

// The headers for every backend call: the inbound ones worth propagating, B3 ids started here when the
// caller sent no trace context (as the sample's tracer does), and `end-user` from the session only.
function forwardHeaders(req: http.IncomingMessage): Record<string, string> {
  const headers = pickHeaders(req, PROPAGATED_HEADERS);
  if (!headers["x-b3-traceid"] && !headers.b3 && !headers.traceparent) {
    headers["x-b3-traceid"] = randomBytes(16).toString("hex");
    headers["x-b3-spanid"] = randomBytes(8).toString("hex");
    headers["x-b3-sampled"] = "1";
  }
  const user = sessionUser(req);
  if (user) headers["end-user"] = user;
  return headers;
}

const resultCounts = new Map<string, number>();

function count(app: string, status: number): void {
  const key = `destination_app="${app}",response_code="${status}"`;
  resultCounts.set(key, (resultCounts.get(key) ?? 0) + 1);
}

function asResult(app: string, r: Fetched, error: string): Result {
  count(app, r.status);
  if (r.status === 200 && typeof r.body === "object" && r.body !== null) {
    return { status: 200, body: r.body as Record<string, unknown> };
  }
  if (r.status === 0) console.error(`productpage: ${app} call failed: ${r.error}`);
  return { status: r.status || 500, body: { error } };
}

async function getProductDetails(id: string, headers: Record<string, string>): Promise<Result> {
  const r = await getJson(`${details}/details/${encodeURIComponent(id)}`, headers, BACKEND_TIMEOUT_MS);
  return asResult("details", r, "Sorry, product details are currently unavailable for this book.");
}

async function getProductReviews(id: string, headers: Record<string, string>): Promise<Result> {
  let result: Result = { status: 500, body: {} };
  for (let i = 0; i < REVIEWS_TRIES; i++) {
    const r = await getJson(`${reviews}/reviews/${encodeURIComponent(id)}`, headers, BACKEND_TIMEOUT_MS);
    result = asResult("reviews", r, "Sorry, product reviews are currently unavailable for this book.");
    if (result.status === 200) break;
  }
  return result;
}

async function getProductRatings(id: string, headers: Record<string, string>): Promise<Result> {
  const r = await getJson(`${ratings}/ratings/${encodeURIComponent(id)}`, headers, BACKEND_TIMEOUT_MS);
  return asResult("ratings", r, "Sorry, product ratings are currently unavailable for this book.");
}

async function flood(id: string, headers: Record<string, string>): Promise<void> {
  await Promise.all(Array.from({ length: floodFactor }, () => getProductReviews(id, headers)));
}

// ---- HTML

function esc(v: unknown): string {
  return String(v ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const STYLE = `body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#333}
nav{background:#222;color:#ddd;padding:8px 24px;display:flex;justify-content:space-between;align-items:center}
nav a{color:#fff} .navbar-brand{font-size:18px;color:#fff;text-decoration:none}
.text-primary{color:#337ab7} .text-center{text-align:center}
.row{display:flex;flex-wrap:wrap;padding:0 24px} .col-md-6{flex:1 1 45%;padding:0 12px} .col-md-12{flex:1 1 100%}
blockquote{border-left:5px solid #eee;margin:0 0 20px;padding:10px 20px} small{display:block;color:#777}
.glyphicon-star,.glyphicon-star-empty{font-size:18px}`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function navbar(user: string): string {
  const right = user
    ? `<p class="navbar-text navbar-right">
      <span style="padding-left: 5px;">${esc(user)} ( <a href="logout">sign out</a> )</span>
    </p>`
    : `<form method="post" action="login" name="login_form" class="navbar-right">
      <input type="text" name="username" id="username" placeholder="User Name">
      <input type="password" name="passwd" placeholder="Password">
      <button type="submit">Sign in</button>
    </form>`;
  return `<nav class="navbar navbar-inverse navbar-static-top">
    <a class="navbar-brand" href="#">BookInfo Sample</a>
    ${right}
</nav>`;
}

function renderDetails(r: Result): string {
  if (r.status !== 200) {
    return `<h4 class="text-center text-primary">Error fetching product details!</h4>
      <p>${esc(r.body.error)}</p>`;
  }
  const d = r.body;
  return `<h4 class="text-center text-primary">Book Details</h4>
      <dl>
        <dt>Type:</dt><dd>${esc(d.type)}</dd>
        <dt>Pages:</dt><dd>${esc(d.pages)}</dd>
        <dt>Publisher:</dt><dd>${esc(d.publisher)}</dd>
        <dt>Language:</dt><dd>${esc(d.language)}</dd>
        <dt>ISBN-10:</dt><dd>${esc(d["ISBN-10"])}</dd>
        <dt>ISBN-13:</dt><dd>${esc(d["ISBN-13"])}</dd>
      </dl>`;
}

function renderRating(rating: unknown): string {
  if (typeof rating !== "object" || rating === null) return "";
  const { stars, color, error } = rating as { stars?: unknown; color?: unknown; error?: unknown };
  if (typeof stars === "number") {
    const full = Math.max(0, Math.min(5, Math.trunc(stars)));
    const on = '<span class="glyphicon glyphicon-star">&#9733;</span>'.repeat(full);
    const off = '<span class="glyphicon glyphicon-star-empty">&#9734;</span>'.repeat(5 - full);
    return `<font color="${esc(color)}">${on}${off}</font>`;
  }
  return error ? `<p><i>${esc(error)}</i></p>` : "";
}

function renderReviews(r: Result): string {
  if (r.status !== 200) {
    return `<h4 class="text-center text-primary">Error fetching product reviews!</h4>
      <p>${esc(r.body.error)}</p>`;
  }
  const list = Array.isArray(r.body.reviews) ? (r.body.reviews as Record<string, unknown>[]) : [];
  const quotes = list.map(
    (review) => `<blockquote>
        <p>${esc(review.text)}</p>
        <small>${esc(review.reviewer)}</small>
        ${renderRating(review.rating)}
      </blockquote>`,
  );
  const cluster = r.body.clustername && r.body.clustername !== "null" ? ` on cluster ${esc(r.body.clustername)}` : "";
  return `<h4 class="text-center text-primary">Book Reviews</h4>
      ${quotes.join("\n      ")}
      <p>Reviews served by: ${esc(r.body.podname)}${cluster}</p>`;
}

function renderProductPage(user: string, product: Product, d: Result, r: Result): string {
  return page(
    "Simple Bookstore App",
    `${navbar(user)}
<div class="container-fluid">
  <div class="row">
    <div class="col-md-12">
      <h3 class="text-center text-primary">${esc(product.title)}</h3>
      <p>Summary: ${product.descriptionHtml}</p>
    </div>
  </div>
  <div class="row">
    <div class="col-md-6">
      ${renderDetails(d)}
    </div>
    <div class="col-md-6">
      ${renderReviews(r)}
    </div>
  </div>
</div>`,
  );
}

function renderIndex(): string {
  const row = (name: string, url: string, depth: number) =>
    `<tr><td style="padding-left:${depth * 24}px">${esc(name)}</td><td>${esc(url)}</td></tr>`;
  return page(
    "Simple Bookstore App",
    `<div class="container-fluid">
  <h3 class="text-primary">Bookinfo: a bookstore page made of four services</h3>
  <table>
    ${row("productpage", "(this service)", 0)}
    ${row("details", `${details}/details`, 1)}
    ${row("reviews", `${reviews}/reviews`, 1)}
    ${row("ratings", `${ratings}/ratings`, 2)}
  </table>
  <p>Open the product page <a href="productpage?u=normal">as a normal user</a> or <a href="productpage?u=test">as a test user</a>.</p>
</div>`,
  );
}

function renderMetrics(): string {
  const lines = [
    "# HELP request_result_total Results of requests to the backends",
    "# TYPE request_result_total counter",
  ];
  for (const [labels, n] of resultCounts) lines.push(`request_result_total{${labels}} ${n}`);
  return `${lines.join("\n")}\n`;
}

// ---- login / logout: set or clear the session, then go back where the user came from.

function redirectBack(req: http.IncomingMessage, res: http.ServerResponse, cookie: string): void {
  res.writeHead(302, { location: req.headers.referer ?? "productpage", "set-cookie": cookie, "content-length": 0 });
  res.end();
}

async function login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const query = new URL(req.url ?? "/", "http://local").searchParams;
  const form = new URLSearchParams(await readBody(req));
  const user = form.get("username") ?? query.get("username") ?? "";
  const cookie = user
    ? `${SESSION_COOKIE}=${sessionCookie(user)}; Path=/; HttpOnly; SameSite=Lax`
    : `${SESSION_COOKIE}=; Path=/; Max-Age=0`;
  redirectBack(req, res, cookie);
}

// ---- routes

const API = /^\/api\/v1\/products\/([^/]+)(?:\/(reviews|ratings))?$/;

serve("productpage", async (req, res, path) => {
  if (path === "/health") return sendText(res, 200, "text/plain; charset=utf-8", "Product page is healthy");
  if (path === "/metrics") return sendText(res, 200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics());
  if (path === "/" || path === "/index.html") return sendText(res, 200, "text/html; charset=utf-8", renderIndex());
  if (path === "/login" && req.method === "POST") return login(req, res);
  if (path === "/logout" && req.method === "GET")
    return redirectBack(req, res, `${SESSION_COOKIE}=; Path=/; Max-Age=0`);
  if (path === "/productpage") {
    const product = PRODUCTS[0]!;
    const headers = forwardHeaders(req);
    const d = await getProductDetails(String(product.id), headers);
    if (floodFactor > 0) await flood(String(product.id), headers);
    const r = await getProductReviews(String(product.id), headers);
    return sendText(res, 200, "text/html; charset=utf-8", renderProductPage(sessionUser(req), product, d, r));
  }
  if (path === "/api/v1/products") return sendJson(res, 200, PRODUCTS);
  const m = API.exec(path);
  if (m?.[1]) {
    const id = decodeURIComponent(m[1]);
    const headers = forwardHeaders(req);
    const get = m[2] === "reviews" ? getProductReviews : m[2] === "ratings" ? getProductRatings : getProductDetails;
    const r = await get(id, headers);
    return sendJson(res, r.status, r.body);
  }
  sendJson(res, 404, { error: "not found" });
});
