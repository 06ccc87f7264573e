// Bookinfo ratings behaviour, user-needs §6 (ratings row).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type App, getJson, request, startApp, url } from "./harness.js";

describe("bookinfo ratings", () => {
  let v1: App;
  let faulty: App;

  before(async () => {
    [v1, faulty] = await Promise.all([startApp("ratings"), startApp("ratings", { SERVICE_VERSION: "v-faulty" })]);
  });
  after(async () => {
    await Promise.all([v1?.stop(), faulty?.stop()]);
  });

  // §6: GET /ratings/<id> → {"id":<id>,"ratings":{"Reviewer1":5,"Reviewer2":4}}
  test("v1 answers the two reviewers' static stars with a numeric id", async () => {
    assert.deepEqual(await getJson(url(v1, "/ratings/0")), {
      status: 200,
      body: { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } },
    });
    assert.deepEqual((await getJson(url(v1, "/ratings/7"))).body, { id: 7, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });

  test("a non-numeric product id is a 400 with an error", async () => {
    assert.deepEqual(await getJson(url(v1, "/ratings/abc")), {
      status: 400,
      body: { error: "please provide numeric product ID" },
    });
  });

  // §6: GET /health → {"status":"Ratings is healthy"}
  test("health answers that ratings is healthy", async () => {
    assert.deepEqual(await getJson(url(v1, "/health")), { status: 200, body: { status: "Ratings is healthy" } });
  });

  // §6: POST /ratings/<id> stores user ratings (in-memory)
  test("POST stores a product's ratings and later GETs return them", async () => {
    const posted = await request("POST", url(v1, "/ratings/42"), {
      body: JSON.stringify({ Reviewer1: 1, Reviewer2: 2 }),
    });
    assert.equal(posted.status, 200);
    assert.deepEqual(JSON.parse(posted.text), { id: 42, ratings: { Reviewer1: 1, Reviewer2: 2 } });
    assert.deepEqual((await getJson(url(v1, "/ratings/42"))).body, { id: 42, ratings: { Reviewer1: 1, Reviewer2: 2 } });
    assert.deepEqual((await getJson(url(v1, "/ratings/0"))).body, { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });

  test("POST with a body that is not JSON is a 400", async () => {
    const r = await request("POST", url(v1, "/ratings/1"), { body: "five stars" });
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.text), { error: "please provide valid ratings JSON" });
  });

  // §6: v-faulty → 50% 503 {"error":"Service unavailable"}. 60 tries all alike has probability 2^-59.
  test("v-faulty answers some requests with 503 Service unavailable and the rest normally", async () => {
    const replies = await Promise.all(Array.from({ length: 60 }, () => getJson(url(faulty, "/ratings/0"))));
    const failed = replies.filter((r) => r.status === 503);
    const ok = replies.filter((r) => r.status === 200);
    assert.equal(failed.length + ok.length, 60);
    assert.ok(failed.length > 0 && ok.length > 0, `503s: ${failed.length}, 200s: ${ok.length}`);
    assert.deepEqual(failed[0]?.body, { error: "Service unavailable" });
    assert.deepEqual(ok[0]?.body, { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });

  test("the database-backed v2 refuses to start rather than serve made-up data", async () => {
    await assert.rejects(startApp("ratings", { SERVICE_VERSION: "v2" }), (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /not supported/);
      return true;
    });
  });
});
