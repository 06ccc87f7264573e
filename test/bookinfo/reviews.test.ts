// Bookinfo reviews behaviour, user-needs §6 (reviews row, call graph, header propagation).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROPAGATED, TEXT1, TEXT2 } from "./fixtures.js";
import {
  type App,
  deadPort,
  getJson,
  json,
  locate,
  REVIEWS_ENV,
  type Recorder,
  startApp,
  startRecorder,
  url,
} from "./harness.js";

const RATINGS = { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } };

function expected(podname: string, rating1?: object, rating2?: object): unknown {
  return {
    id: "0",
    podname,
    clustername: "null",
    reviews: [
      { reviewer: "Reviewer1", text: TEXT1, ...(rating1 ? { rating: rating1 } : {}) },
      { reviewer: "Reviewer2", text: TEXT2, ...(rating2 ? { rating: rating2 } : {}) },
    ],
  };
}

describe("bookinfo reviews", () => {
  const apps: App[] = [];
  let fakeRatings: Recorder;
  let slowRatings: Recorder;
  let v1: App;
  let v2: App;
  let v3: App;
  let v2NoRatings: App;
  let v3Slow: App;
  let v2Slow: App;

  before(async () => {
    // A ratings stand-in that answers like the real one and records what reviews sent it.
    fakeRatings = await startRecorder((_req, res) => json(res, 200, RATINGS));
    // 3 s: past v3's 2.5 s client timeout, well within v2's 10 s.
    slowRatings = await startRecorder((_req, res) => json(res, 200, RATINGS, 3_000));
    const nowhere = await deadPort();
    const started = await Promise.all([
      startApp("reviews", { ...REVIEWS_ENV.v1, ...locate("ratings", fakeRatings.port) }),
      startApp("reviews", { ...REVIEWS_ENV.v2, ...locate("ratings", fakeRatings.port), CLUSTER_NAME: "Kubernetes" }),
      startApp("reviews", { ...REVIEWS_ENV.v3, ...locate("ratings", fakeRatings.port) }),
      startApp("reviews", { ...REVIEWS_ENV.v2, ...locate("ratings", nowhere) }),
      startApp("reviews", { ...REVIEWS_ENV.v3, ...locate("ratings", slowRatings.port) }),
      startApp("reviews", { ...REVIEWS_ENV.v2, ...locate("ratings", slowRatings.port) }),
    ]);
    apps.push(...started);
    [v1, v2, v3, v2NoRatings, v3Slow, v2Slow] = started as [App, App, App, App, App, App];
  });
  after(async () => {
    await Promise.all([...apps.map((a) => a.stop()), fakeRatings?.close(), slowRatings?.close()]);
  });

  // §6: v1 ENABLE_RATINGS=false — no `rating`, never calls ratings.
  test("v1 answers both reviews without ratings and never calls ratings", async () => {
    const before = fakeRatings.seen.length;
    assert.deepEqual(await getJson(url(v1, "/reviews/0")), { status: 200, body: expected(REVIEWS_ENV.v1.HOSTNAME) });
    assert.equal(fakeRatings.seen.length, before);
  });

  // §6: v2 ratings on, STAR_COLOR=black; podname is HOSTNAME, clustername CLUSTER_NAME.
  test("v2 answers each reviewer's stars from ratings in black", async () => {
    const r = await getJson(url(v2, "/reviews/0"));
    assert.deepEqual(r.body, {
      ...(expected(REVIEWS_ENV.v2.HOSTNAME, { stars: 5, color: "black" }, { stars: 4, color: "black" }) as object),
      clustername: "Kubernetes",
    });
    assert.equal(fakeRatings.seen.at(-1)?.url, "/ratings/0");
  });

  // §6: v3 ratings on, STAR_COLOR=red.
  test("v3 answers each reviewer's stars from ratings in red", async () => {
    assert.deepEqual(
      (await getJson(url(v3, "/reviews/0"))).body,
      expected(REVIEWS_ENV.v3.HOSTNAME, { stars: 5, color: "red" }, { stars: 4, color: "red" }),
    );
  });

  // §6: if ratings fail: "rating":{"error":"Ratings service is currently unavailable"}; reviews still 200.
  test("ratings unreachable turns each rating into the unavailable error, not a failed response", async () => {
    const err = { error: "Ratings service is currently unavailable" };
    assert.deepEqual(await getJson(url(v2NoRatings, "/reviews/0")), {
      status: 200,
      body: expected(REVIEWS_ENV.v2.HOSTNAME, err, err),
    });
  });

  // §6: ratings client timeout 10 s (black) / 2.5 s (red) — the fault-injection task's premise.
  test("v3 gives up on a 3 s ratings after 2.5 s while v2 waits for it", async () => {
    const [red, black] = await Promise.all([
      (async () => {
        const t = Date.now();
        return { r: await getJson(url(v3Slow, "/reviews/0")), ms: Date.now() - t };
      })(),
      (async () => {
        const t = Date.now();
        return { r: await getJson(url(v2Slow, "/reviews/0")), ms: Date.now() - t };
      })(),
    ]);
    const err = { error: "Ratings service is currently unavailable" };
    assert.deepEqual(red.r.body, expected(REVIEWS_ENV.v3.HOSTNAME, err, err));
    assert.ok(red.ms >= 2_400, `v3 answered after ${red.ms} ms`);
    assert.deepEqual(
      black.r.body,
      expected(REVIEWS_ENV.v2.HOSTNAME, { stars: 5, color: "black" }, { stars: 4, color: "black" }),
    );
    assert.ok(black.ms >= 2_950, `v2 answered after ${black.ms} ms`);
  });

  // §6 header propagation: every hop forwards trace context, identity headers and `end-user`.
  test("reviews forwards trace, identity and end-user headers to ratings", async () => {
    const sent = {
      "x-request-id": "9c1f0b5e-reviews-test",
      ...PROPAGATED,
      cookie: "session=abc",
      "end-user": "jason",
    };
    await getJson(url(v2, "/reviews/0"), sent);
    const got = fakeRatings.seen.at(-1)?.headers ?? {};
    for (const [name, value] of Object.entries(sent)) assert.equal(got[name], value, name);
  });

  test("health answers that reviews is healthy; unknown paths are 404", async () => {
    assert.deepEqual(await getJson(url(v1, "/health")), { status: 200, body: { status: "Reviews is healthy" } });
    assert.equal((await getJson(url(v1, "/reviews/abc"))).status, 404);
  });
});
