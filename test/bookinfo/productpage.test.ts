// Bookinfo productpage behaviour, user-needs §6 (productpage row, call graph, header propagation, page
// rendering) and §5.1 step 9 (the `grep reviews-v.-` loop over /productpage).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROPAGATED, STATIC_DETAILS, TEXT1, TEXT2 } from "./fixtures.js";
import {
  type App,
  deadPort,
  getJson,
  json,
  locate,
  REVIEWS_ENV,
  type Recorder,
  request,
  startApp,
  startRecorder,
  url,
} from "./harness.js";

const DETAILS_DOWN = "Sorry, product details are currently unavailable for this book.";
const REVIEWS_DOWN = "Sorry, product reviews are currently unavailable for this book.";
const RATINGS_DOWN = "Sorry, product ratings are currently unavailable for this book.";

const TRACE = { "x-request-id": "3f0c6a2e-productpage-test", ...PROPAGATED };

function count(html: string, needle: string): number {
  return html.split(needle).length - 1;
}
const FULL_STAR = 'class="glyphicon glyphicon-star"';
const EMPTY_STAR = 'class="glyphicon glyphicon-star-empty"';

function sessionOf(setCookie: string[] | undefined): string {
  const c = setCookie?.[0] ?? "";
  return c.slice(0, c.indexOf(";"));
}

describe("bookinfo productpage", () => {
  const apps: App[] = [];
  const recorders: Recorder[] = [];
  let pp: Record<"v1" | "v2" | "v3" | "down" | "noRatings" | "failing" | "traced" | "flood", App>;
  let tracedDetails: Recorder;
  let tracedRatings: Recorder;
  let failing: Recorder;
  let floodReviews: Recorder;

  async function start(name: Parameters<typeof startApp>[0], env: Record<string, string>): Promise<App> {
    const app = await startApp(name, env);
    apps.push(app);
    return app;
  }

  before(async () => {
    tracedDetails = await startRecorder((_req, res) => json(res, 200, STATIC_DETAILS));
    tracedRatings = await startRecorder((_req, res) =>
      json(res, 200, { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } }),
    );
    // Stands in for both details (answers 503) and reviews (never answers) behind one productpage.
    failing = await startRecorder((req, res) => {
      if (req.url?.startsWith("/details/")) json(res, 503, { error: "upstream connect error" });
    });
    floodReviews = await startRecorder((_req, res) =>
      json(res, 200, { id: "0", podname: "reviews-v1-flood", clustername: "null", reviews: [] }),
    );
    recorders.push(tracedDetails, tracedRatings, failing, floodReviews);
    const [nowhere1, nowhere2, nowhere3] = await Promise.all([deadPort(), deadPort(), deadPort()]);

    const [details, ratings] = await Promise.all([start("details", {}), start("ratings", {})]);
    const [rv1, rv2, rv3, rvNoRatings, rvTraced] = await Promise.all([
      start("reviews", { ...REVIEWS_ENV.v1, ...locate("ratings", ratings.port) }),
      start("reviews", { ...REVIEWS_ENV.v2, ...locate("ratings", ratings.port) }),
      start("reviews", { ...REVIEWS_ENV.v3, ...locate("ratings", ratings.port) }),
      start("reviews", { ...REVIEWS_ENV.v2, ...locate("ratings", nowhere1) }),
      start("reviews", { ...REVIEWS_ENV.v2, ...locate("ratings", tracedRatings.port) }),
    ]);
    const front = (reviews: number, extra: Record<string, string> = {}) =>
      start("productpage", {
        ...locate("details", details.port),
        ...locate("reviews", reviews),
        ...locate("ratings", ratings.port),
        ...extra,
      });
    const [v1, v2, v3, down, noRatings, failingPp, traced, flood] = await Promise.all([
      front(rv1.port),
      front(rv2.port),
      front(rv3.port),
      front(nowhere2, { ...locate("details", nowhere2), ...locate("ratings", nowhere3) }),
      front(rvNoRatings.port),
      front(failing.port, locate("details", failing.port)),
      front(rvTraced.port, locate("details", tracedDetails.port)),
      front(floodReviews.port, { FLOOD_FACTOR: "3" }),
    ]);
    pp = { v1, v2, v3, down, noRatings, failing: failingPp, traced, flood } as typeof pp;
  });
  after(async () => {
    await Promise.all([...apps.map((a) => a.stop()), ...recorders.map((r) => r.close())]);
  });

  // §6 page rendering: details table, two reviews, "Reviews served by: <podname>", the title.
  test("with reviews v1 the page shows the book, its details and both reviews without stars", async () => {
    const r = await request("GET", url(pp.v1, "/productpage"));
    assert.equal(r.status, 200);
    assert.match(r.headers["content-type"] ?? "", /^text\/html/);
    assert.ok(r.text.includes("<title>Simple Bookstore App</title>"));
    assert.ok(r.text.includes('<h3 class="text-center text-primary">The Comedy of Errors</h3>'));
    assert.ok(r.text.includes("<b>William Shakespeare's</b> early plays"));
    assert.ok(r.text.includes("Book Details"));
    for (const [label, value] of [
      ["Type:", "paperback"],
      ["Pages:", "200"],
      ["Publisher:", "PublisherA"],
      ["Language:", "English"],
      ["ISBN-10:", "1234567890"],
      ["ISBN-13:", "123-1234567890"],
    ]) {
      assert.ok(r.text.includes(`<dt>${label}</dt><dd>${value}</dd>`), label);
    }
    assert.ok(r.text.includes("Book Reviews"));
    assert.ok(r.text.includes(`<p>${TEXT1}</p>`) && r.text.includes(`<p>${TEXT2}</p>`));
    assert.ok(r.text.includes("<small>Reviewer1</small>") && r.text.includes("<small>Reviewer2</small>"));
    assert.equal(count(r.text, FULL_STAR) + count(r.text, EMPTY_STAR), 0);
    assert.ok(r.text.includes(`Reviews served by: ${REVIEWS_ENV.v1.HOSTNAME}`));
    // §5.1 step 9: the traffic-split check greps this.
    assert.match(r.text, /reviews-v1-/);
    assert.ok(r.text.includes('name="username"'), "signed-out page offers the sign-in form");
  });

  // §6: v2 black stars, v3 red stars; 5 and 4 of 5.
  for (const [version, color] of [
    ["v2", "black"],
    ["v3", "red"],
  ] as const) {
    test(`with reviews ${version} the page shows 5 and 4 stars in ${color}`, async () => {
      const r = await request("GET", url(pp[version], "/productpage"));
      assert.equal(r.status, 200);
      assert.equal(count(r.text, FULL_STAR), 9);
      assert.equal(count(r.text, EMPTY_STAR), 1);
      assert.equal(count(r.text, `<font color="${color}">`), 2);
      assert.ok(r.text.includes(`Reviews served by: ${REVIEWS_ENV[version].HOSTNAME}`));
    });
  }

  // §6 error strings if a dependency fails.
  test("details and reviews unreachable: the page still renders, with the documented apologies", async () => {
    const r = await request("GET", url(pp.down, "/productpage"));
    assert.equal(r.status, 200);
    assert.ok(r.text.includes("<title>Simple Bookstore App</title>"));
    assert.ok(r.text.includes("Error fetching product details!"));
    assert.ok(r.text.includes(`<p>${DETAILS_DOWN}</p>`));
    assert.ok(r.text.includes("Error fetching product reviews!"));
    assert.ok(r.text.includes(`<p>${REVIEWS_DOWN}</p>`));
    assert.ok(!r.text.includes("Book Reviews") && !r.text.includes("Reviews served by"));
  });

  // §6: reviews answers `rating.error` when ratings fails; the page shows it in place of stars.
  test("ratings unreachable: the page shows each review with 'Ratings service is currently unavailable'", async () => {
    const r = await request("GET", url(pp.noRatings, "/productpage"));
    assert.equal(count(r.text, "<p><i>Ratings service is currently unavailable</i></p>"), 2);
    assert.equal(count(r.text, FULL_STAR), 0);
    assert.ok(r.text.includes(`<p>${TEXT1}</p>`));
  });

  // §6 call graph: productpage → reviews timeout 3 s, two tries; → details one try.
  test("a reviews that never answers is tried twice, 3 s each, then the page apologises", async () => {
    const before = failing.seen.length;
    const r = await request("GET", url(pp.failing, "/productpage"));
    const calls = failing.seen.slice(before);
    assert.deepEqual(
      calls.map((c) => c.url),
      ["/details/0", "/reviews/0", "/reviews/0"],
    );
    const [, first, second] = calls;
    assert.ok(second && first && second.at - first.at >= 2_900, "second try only after the first timed out");
    assert.ok(r.ms >= 5_800, `page took ${r.ms} ms`);
    assert.ok(r.text.includes(`<p>${DETAILS_DOWN}</p>`) && r.text.includes(`<p>${REVIEWS_DOWN}</p>`));
  });

  // §6 endpoints: the JSON API.
  test("GET /api/v1/products lists the one product", async () => {
    const r = await getJson(url(pp.v2, "/api/v1/products"));
    assert.equal(r.status, 200);
    const products = r.body as { id: number; title: string; descriptionHtml: string }[];
    assert.equal(products.length, 1);
    assert.equal(products[0]?.id, 0);
    assert.equal(products[0]?.title, "The Comedy of Errors");
    assert.match(
      products[0]?.descriptionHtml ?? "",
      /^<a href="https:\/\/en.wikipedia.org\/wiki\/The_Comedy_of_Errors">/,
    );
  });

  test("GET /api/v1/products/<id>, /reviews and /ratings relay the backends' JSON", async () => {
    assert.deepEqual(await getJson(url(pp.v2, "/api/v1/products/0")), { status: 200, body: STATIC_DETAILS });
    const reviews = await getJson(url(pp.v2, "/api/v1/products/0/reviews"));
    assert.equal(reviews.status, 200);
    assert.deepEqual(reviews.body, {
      id: "0",
      podname: REVIEWS_ENV.v2.HOSTNAME,
      clustername: "null",
      reviews: [
        { reviewer: "Reviewer1", text: TEXT1, rating: { stars: 5, color: "black" } },
        { reviewer: "Reviewer2", text: TEXT2, rating: { stars: 4, color: "black" } },
      ],
    });
    assert.deepEqual(await getJson(url(pp.v2, "/api/v1/products/0/ratings")), {
      status: 200,
      body: { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } },
    });
  });

  test("the API answers 500 with the apology when a backend is unreachable", async () => {
    assert.deepEqual(await getJson(url(pp.down, "/api/v1/products/0")), { status: 500, body: { error: DETAILS_DOWN } });
    assert.deepEqual(await getJson(url(pp.down, "/api/v1/products/0/reviews")), {
      status: 500,
      body: { error: REVIEWS_DOWN },
    });
    assert.deepEqual(await getJson(url(pp.down, "/api/v1/products/0/ratings")), {
      status: 500,
      body: { error: RATINGS_DOWN },
    });
  });

  test("the API passes on a backend's error status with the apology", async () => {
    assert.deepEqual(await getJson(url(pp.failing, "/api/v1/products/0")), {
      status: 503,
      body: { error: DETAILS_DOWN },
    });
    assert.deepEqual(await getJson(url(pp.v2, "/api/v1/products/abc")), { status: 400, body: { error: DETAILS_DOWN } });
  });

  test("health, landing page and metrics", async () => {
    const health = await request("GET", url(pp.v1, "/health"));
    assert.equal(health.status, 200);
    assert.equal(health.text, "Product page is healthy");
    for (const path of ["/", "/index.html"]) {
      const landing = await request("GET", url(pp.v1, path));
      assert.equal(landing.status, 200);
      assert.ok(landing.text.includes("<title>Simple Bookstore App</title>"));
      assert.ok(landing.text.includes('href="productpage?u=normal"'));
    }
    await request("GET", url(pp.v1, "/productpage"));
    const metrics = await request("GET", url(pp.v1, "/metrics"));
    assert.match(metrics.headers["content-type"] ?? "", /^text\/plain; version=0.0.4/);
    assert.match(metrics.text, /^# TYPE request_result_total counter$/m);
    assert.match(metrics.text, /^request_result_total\{destination_app="details",response_code="200"\} [1-9]\d*$/m);
    assert.match(metrics.text, /^request_result_total\{destination_app="reviews",response_code="200"\} [1-9]\d*$/m);
    assert.equal((await request("GET", url(pp.v1, "/nope"))).status, 404);
  });

  // §6: POST /login (form username → session cookie; redirects back); productpage adds `end-user`.
  test("login sets a session, the page greets the user and ratings sees end-user through reviews", async () => {
    const referer = `${url(pp.traced, "/productpage")}`;
    const login = await request("POST", url(pp.traced, "/login"), {
      headers: { "content-type": "application/x-www-form-urlencoded", referer },
      body: "username=jason&passwd=",
    });
    assert.equal(login.status, 302);
    assert.equal(login.headers.location, referer);
    const session = sessionOf(login.headers["set-cookie"]);
    assert.match(session, /^session=[\w-]+\.[\w-]+$/);

    const page = await request("GET", url(pp.traced, "/productpage"), { headers: { cookie: session } });
    assert.ok(page.text.includes('jason ( <a href="logout">sign out</a> )'));
    assert.ok(!page.text.includes('name="username"'));
    assert.equal(tracedDetails.seen.at(-1)?.headers["end-user"], "jason");
    assert.equal(tracedRatings.seen.at(-1)?.headers["end-user"], "jason");
    // The cookie itself travels too (the sample forwards `cookie`).
    assert.equal(tracedRatings.seen.at(-1)?.headers.cookie, session);

    const logout = await request("GET", url(pp.traced, "/logout"), { headers: { cookie: session, referer } });
    assert.equal(logout.status, 302);
    assert.equal(logout.headers.location, referer);
    assert.match(logout.headers["set-cookie"]?.[0] ?? "", /^session=; Path=\/; Max-Age=0/);
  });

  test("a tampered session cookie is ignored: no greeting, no end-user", async () => {
    const forged = `session=${Buffer.from(JSON.stringify({ user: "admin" })).toString("base64url")}.AAAA`;
    const page = await request("GET", url(pp.traced, "/productpage"), { headers: { cookie: forged } });
    assert.ok(page.text.includes('name="username"'));
    assert.equal(tracedRatings.seen.at(-1)?.headers["end-user"], undefined);
  });

  // The sample sets `end-user` from the session only; a client cannot claim it by sending the header.
  test("an end-user header from the client is not passed on", async () => {
    await request("GET", url(pp.traced, "/productpage"), { headers: { "end-user": "jason" } });
    assert.equal(tracedDetails.seen.at(-1)?.headers["end-user"], undefined);
    assert.equal(tracedRatings.seen.at(-1)?.headers["end-user"], undefined);
  });

  // §6 header propagation (every hop).
  test("trace and identity headers reach details directly and ratings through reviews", async () => {
    await request("GET", url(pp.traced, "/productpage"), { headers: { ...TRACE, cookie: "theme=dark" } });
    for (const seen of [tracedDetails.seen.at(-1), tracedRatings.seen.at(-1)]) {
      for (const [name, value] of Object.entries(TRACE)) assert.equal(seen?.headers[name], value, name);
      assert.equal(seen?.headers.cookie, "theme=dark");
    }
  });

  test("without incoming trace context productpage starts one B3 trace shared by both calls", async () => {
    await request("GET", url(pp.traced, "/productpage"));
    const d = tracedDetails.seen.at(-1)?.headers ?? {};
    const r = tracedRatings.seen.at(-1)?.headers ?? {};
    assert.match(String(d["x-b3-traceid"]), /^[0-9a-f]{32}$/);
    assert.match(String(d["x-b3-spanid"]), /^[0-9a-f]{16}$/);
    assert.equal(d["x-b3-sampled"], "1");
    assert.equal(r["x-b3-traceid"], d["x-b3-traceid"]);
  });

  test("FLOOD_FACTOR sends that many extra reviews calls per page view", async () => {
    const before = floodReviews.seen.length;
    const page = await request("GET", url(pp.flood, "/productpage"));
    assert.equal(floodReviews.seen.length - before, 4);
    assert.ok(page.text.includes("Reviews served by: reviews-v1-flood"));
  });
});
