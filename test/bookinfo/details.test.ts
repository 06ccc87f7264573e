// Bookinfo details behaviour, user-needs §6 (details row).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { STATIC_DETAILS } from "./fixtures.js";
import { type App, deadPort, getJson, json, type Recorder, startApp, startRecorder, url } from "./harness.js";

// The shape of a Google Books volumes answer, trimmed to what details reads.
const VOLUMES = {
  items: [
    {
      volumeInfo: {
        authors: ["William Shakespeare"],
        publishedDate: "2002-01-01",
        printType: "BOOK",
        pageCount: 80,
        publisher: "Courier Corporation",
        language: "en",
        industryIdentifiers: [
          { type: "ISBN_13", identifier: "9780486424613" },
          { type: "ISBN_10", identifier: "0486424618" },
        ],
      },
    },
  ],
};

describe("bookinfo details", () => {
  let v1: App;
  let v2: App;
  let v2Offline: App;
  let books: Recorder;

  before(async () => {
    books = await startRecorder((_req, res) => json(res, 200, VOLUMES));
    const nowhere = await deadPort();
    [v1, v2, v2Offline] = await Promise.all([
      startApp("details"),
      startApp("details", {
        ENABLE_EXTERNAL_BOOK_SERVICE: "true",
        EXTERNAL_BOOK_SERVICE_URL: `http://127.0.0.1:${books.port}`,
      }),
      startApp("details", {
        ENABLE_EXTERNAL_BOOK_SERVICE: "true",
        EXTERNAL_BOOK_SERVICE_URL: `http://127.0.0.1:${nowhere}`,
      }),
    ]);
  });
  after(async () => {
    await Promise.all([v1?.stop(), v2?.stop(), v2Offline?.stop(), books?.close()]);
  });

  // §6: GET /details/<id> → {id, author, year, type, pages, publisher, language, ISBN-10, ISBN-13}
  test("v1 answers the static details of the book with the requested id", async () => {
    assert.deepEqual(await getJson(url(v1, "/details/0")), { status: 200, body: STATIC_DETAILS });
    assert.deepEqual((await getJson(url(v1, "/details/3"))).body, { ...STATIC_DETAILS, id: 3 });
  });

  // §6: non-numeric id → 400 {"error":…}
  test("a non-numeric product id is a 400 with an error", async () => {
    assert.deepEqual(await getJson(url(v1, "/details/abc")), {
      status: 400,
      body: { error: "please provide numeric product id" },
    });
  });

  // §6: GET /health → {"status":"Details is healthy"}
  test("health answers that details is healthy", async () => {
    assert.deepEqual(await getJson(url(v1, "/health")), { status: 200, body: { status: "Details is healthy" } });
  });

  // §6: v2 (ENABLE_EXTERNAL_BOOK_SERVICE=true) asks the Google Books API by ISBN 0486424618: the egress demo.
  test("v2 builds the details from the external book service's volume", async () => {
    const r = await getJson(url(v2, "/details/0"), {
      "x-request-id": "req-egress-1",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      cookie: "session=secret",
      authorization: "Bearer secret",
    });
    assert.deepEqual(r, {
      status: 200,
      body: {
        id: 0,
        author: "William Shakespeare",
        year: "2002-01-01",
        type: "paperback",
        pages: 80,
        publisher: "Courier Corporation",
        language: "English",
        "ISBN-10": "0486424618",
        "ISBN-13": "9780486424613",
      },
    });
    const call = books.seen.at(-1);
    assert.equal(call?.url, "/books/v1/volumes?q=isbn:0486424618");
    assert.equal(call?.headers["x-request-id"], "req-egress-1");
    assert.equal(call?.headers.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    // Credentials stay inside the mesh.
    assert.equal(call?.headers.cookie, undefined);
    assert.equal(call?.headers.authorization, undefined);
  });

  test("v2 answers 400 with the reason when the external book service is unreachable", async () => {
    const r = await getJson(url(v2Offline, "/details/0"));
    assert.equal(r.status, 400);
    assert.match((r.body as { error: string }).error, /ECONNREFUSED/);
  });
});
