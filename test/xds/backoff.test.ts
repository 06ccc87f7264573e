// Reconnect backoff: exponential, capped, jittered, reset after a successful connection.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Backoff } from "../../src/xds/backoff.js";

describe("Backoff", () => {
  test("delays double up to the cap and restart after reset", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 500, jitter: 0 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 500, 500]);
    b.reset();
    assert.equal(b.next(), 100);
  });

  test("jitter only shortens the delay, by at most the jitter fraction", () => {
    const low = new Backoff({ initialMs: 1000, jitter: 0.2 }, () => 1);
    const high = new Backoff({ initialMs: 1000, jitter: 0.2 }, () => 0);
    assert.equal(low.next(), 800);
    assert.equal(high.next(), 1000);
  });
});
